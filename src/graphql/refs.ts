import type { ActorRow, ApiKeyRow, BatchRow, EventRow, GrantRow, ItemRow, ProductRow } from '../db/types.ts';
import type { EpcisCaptureRejection } from '../core/epcis-import.ts';
import type { ItemProblem } from '../services/results.ts';
import { builder } from './builder.ts';

// Every object ref is declared here so type files can reference each other without import cycles.
export const ActorRef = builder.objectRef<ActorRow>('Actor');
export const ApiKeyRef = builder.objectRef<ApiKeyRow>('ApiKey');
export const ProductRef = builder.objectRef<ProductRow>('Product');
export const BatchRef = builder.objectRef<BatchRow>('Batch');
export const ItemRef = builder.objectRef<ItemRow>('Item');
export const EventRef = builder.objectRef<EventRow>('Event');
export const GrantRef = builder.objectRef<GrantRow>('Grant');

export interface ErrorShape {
  __typename: string;
  message: string;
}
export const ErrorInterface = builder.interfaceRef<ErrorShape>('Error');
export const NotFoundErrorRef = builder.objectRef<ErrorShape>('NotFoundError');
export const ValidationErrorRef = builder.objectRef<ErrorShape & { field: string }>('ValidationError');
export const PermissionDeniedErrorRef = builder.objectRef<ErrorShape & { rule: string; items: ItemProblem[] }>('PermissionDeniedError');
export const InvalidTransitionErrorRef = builder.objectRef<ErrorShape & { items: ItemProblem[] }>('InvalidTransitionError');
export const ConflictErrorRef = builder.objectRef<ErrorShape>('ConflictError');
/** A refused EPCIS document (its implementation, with the problem list, is in types/epcis.ts). */
export const EpcisCaptureErrorRef = builder.objectRef<ErrorShape & Omit<EpcisCaptureRejection, 'kind' | 'message'>>('EpcisCaptureError');
export const ItemProblemRef = builder.objectRef<ItemProblem>('ItemProblem');
