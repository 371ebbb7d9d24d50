import { gs1CheckDigit } from './identifiers.ts';

/** Returns a problem description, or undefined when `gln` is a 13-digit GLN with a valid GS1 check digit. */
export function validateGln(gln: string): string | undefined {
  if (!/^\d{13}$/.test(gln)) return 'GLN must be 13 digits';
  const expected = gs1CheckDigit(gln.slice(0, 12));
  if (Number(gln[12]) !== expected) return `GLN check digit is ${gln[12]}, expected ${expected}`;
  return undefined;
}

/** Returns a problem description, or undefined for a GS1 company prefix of 6–12 digits. */
export function validateCompanyPrefix(prefix: string): string | undefined {
  return /^\d{6,12}$/.test(prefix) ? undefined : `company prefix "${prefix}" must be 6 to 12 digits`;
}
