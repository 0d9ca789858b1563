// SPDX-License-Identifier: GPL-2.0-only
/** The JSON Schemas of the VMM tools' `--json` outputs and of guest map files (draft 2020-12). */
import Ajv2020 from 'ajv/dist/2020';
import common from './vmm-common.schema.json';
import usable from './usable.schema.json';
import checkGuest from './check-guest.schema.json';
import plan from './plan.schema.json';
import msiPlace from './msi-place.schema.json';
import diffAbi from './diff-abi.schema.json';
import guestMap from '../guest-map.schema.json';

export type JsonSchema = Record<string, unknown> & { $id?: string };

export const VMM_COMMON_SCHEMA = common as JsonSchema;
/** CLI command → the schema of its `--json` output. */
export const VMM_CLI_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  usable: usable as JsonSchema,
  'check-guest': checkGuest as JsonSchema,
  plan: plan as JsonSchema,
  'msi-place': msiPlace as JsonSchema,
  'diff-abi': diffAbi as JsonSchema,
};
export const GUEST_MAP_FILE_SCHEMA = guestMap as JsonSchema;

let ajv: Ajv2020 | undefined;
/** An Ajv holding every schema here, addressable by `$id`. */
export function vmmSchemaAjv(): Ajv2020 {
  if (ajv) return ajv;
  ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  for (const s of [VMM_COMMON_SCHEMA, ...Object.values(VMM_CLI_SCHEMAS), GUEST_MAP_FILE_SCHEMA]) ajv.addSchema(s);
  return ajv;
}
