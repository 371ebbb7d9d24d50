/**
 * The GS1 Core Business Vocabulary (CBV 2.0) as this ledger uses it: the standard's term lists and the forms a term
 * may be written in. One module for every EPCIS concern — validation (`epcis-validate.ts`), hash IDs
 * (`epcis-hash.ts`), export (`epcis-export.ts`), import (`epcis-import.ts`) and query parameters
 * (`epcis-query-params.ts`) — so they cannot disagree on a term. Pure.
 */

/** Base of CBV 2.0 Web URIs (`https://ref.gs1.org/cbv/BizStep-shipping`). */
export const CBV_WEB = 'https://ref.gs1.org/cbv/';
/** Base of GS1 Web vocabulary terms (measurement types, sensor alert types). */
export const GS1_VOC = 'https://ref.gs1.org/voc/';

/** Business steps (short names). */
export const BIZ_STEPS = [
  'accepting', 'arriving', 'assembling', 'collecting', 'commissioning', 'consigning', 'creating_class_instance', 'cycle_counting',
  'decommissioning', 'departing', 'destroying', 'disassembling', 'dispensing', 'encoding', 'entering_exiting', 'holding', 'inspecting',
  'installing', 'killing', 'loading', 'other', 'packing', 'picking', 'receiving', 'removing', 'repackaging', 'repairing', 'replacing',
  'reserving', 'retail_selling', 'shipping', 'staging_outbound', 'stock_taking', 'stocking', 'storing', 'transporting', 'unloading',
  'unpacking', 'void_shipping', 'sensor_reporting', 'sampling',
] as const;

/** Dispositions (short names). */
export const DISPOSITIONS = [
  'active', 'container_closed', 'damaged', 'destroyed', 'dispensed', 'disposed', 'encoded', 'expired', 'in_progress', 'in_transit',
  'inactive', 'no_pedigree_match', 'non_sellable_other', 'partially_dispensed', 'recalled', 'reserved', 'retail_sold', 'returned',
  'sellable_accessible', 'sellable_not_accessible', 'stolen', 'unknown', 'available', 'completeness_verified', 'completeness_inferred',
  'conformant', 'container_open', 'mismatch_instance', 'mismatch_class', 'mismatch_quantity', 'needs_replacement', 'non_conformant',
  'unavailable',
] as const;

/** Business transaction types (short names). */
export const BIZ_TRANSACTION_TYPES = ['bol', 'cert', 'desadv', 'inv', 'pedigree', 'po', 'poc', 'prodorder', 'recadv', 'rma', 'testprd', 'testres', 'upevt'] as const;

/** Source/destination types (short names). */
export const SOURCE_DEST_TYPES = ['owning_party', 'possessing_party', 'location'] as const;

/** The source/destination types that name a party (custody is possession: the ledger reads `possessing_party` first). */
export const PARTY_TYPES = ['owning_party', 'possessing_party'] as const;

/** Error declaration reasons (short names). */
export const ERROR_REASONS = ['did_not_occur', 'incorrect_data'] as const;

/** Sensor alert types (GS1 Web vocabulary). */
export const SENSOR_ALERT_TYPES = ['ALARM_CONDITION', 'ERROR_CONDITION'] as const;

/** Sensor report components (short names). */
export const COMPONENTS = [
  'x', 'y', 'z', 'axial_distance', 'azimuth', 'height', 'spherical_radius', 'polar_angle', 'elevation_angle', 'easting', 'northing',
  'latitude', 'longitude', 'altitude',
] as const;

/** Measurement types (sensorReport `type`, GS1 Web vocabulary). */
export const MEASUREMENT_TYPES = [
  'AbsoluteHumidity', 'AbsorbedDose', 'AbsorbedDoseRate', 'Acceleration', 'Radioactivity', 'Altitude', 'AmountOfSubstance',
  'AmountOfSubstancePerUnitVolume', 'Angle', 'AngularAcceleration', 'AngularMomentum', 'AngularVelocity', 'Area', 'Capacitance',
  'Conductance', 'Conductivity', 'Count', 'Density', 'Dimensionless', 'DoseEquivalent', 'DoseEquivalentRate', 'DynamicViscosity',
  'ElectricCharge', 'ElectricCurrent', 'ElectricCurrentDensity', 'ElectricFieldStrength', 'Energy', 'Exposure', 'Force', 'Frequency',
  'Illuminance', 'Inductance', 'Irradiance', 'KinematicViscosity', 'Length', 'LinearMomentum', 'Luminance', 'LuminousFlux',
  'LuminousIntensity', 'MagneticFlux', 'MagneticFluxDensity', 'MagneticVectorPotential', 'Mass', 'MassConcentration', 'MassFlowRate',
  'MassPerAreaTime', 'MemoryCapacity', 'MolalityOfSolute', 'MolarEnergy', 'MolarMass', 'MolarVolume', 'Power', 'Pressure', 'RadiantFlux',
  'RadiantIntensity', 'RelativeHumidity', 'Resistance', 'Resistivity', 'SolidAngle', 'SpecificVolume', 'Speed', 'SurfaceDensity',
  'SurfaceTension', 'Temperature', 'Time', 'Torque', 'Voltage', 'Volume', 'VolumeFlowRate', 'VolumeFraction', 'VolumetricFlux',
  'Wavenumber',
] as const;

/**
 * CBV short name of a vocabulary value written as a bare name, a CBV 1.x URN (`urn:epcglobal:cbv:{urnPart}:x`),
 * a CBV 2.0 Web URI (`https://ref.gs1.org/cbv/{webPart}-x`) or its compact form (`cbv:{webPart}-x`). Other values
 * (private vocabularies) are returned unchanged (trimmed).
 */
export function cbvShortName(value: string, urnPart: string, webPart: string): string {
  const v = value.trim();
  const prefixes = [`urn:epcglobal:cbv:${urnPart}:`, `${CBV_WEB}${webPart}-`, `cbv:${webPart}-`, `https://gs1.org/voc/${webPart}-`];
  for (const p of prefixes) if (v.startsWith(p)) return v.slice(p.length);
  return v;
}

/** Short name of a business step in any of its forms (`urn:epcglobal:cbv:bizstep:shipping` → `shipping`). */
export const bizStepName = (value: string): string => cbvShortName(value, 'bizstep', 'BizStep');
/** Short name of a disposition in any of its forms. */
export const dispositionName = (value: string): string => cbvShortName(value, 'disp', 'Disp');
/** Short name of a source/destination type in any of its forms. */
export const sourceDestTypeName = (value: string): string => cbvShortName(value, 'sdt', 'SDT');
