// SPDX-License-Identifier: GPL-2.0-only
/**
 * The JSON Schemas of every JSON output (CLI `--json`, HTTP agent) and of the agent's request
 * bodies: data files beside this module, one source for validation, the OpenAPI document and
 * the tests. `schemaAjv()` compiles them all (draft 2020-12) so a `$ref` between files resolves.
 */
import Ajv2020 from 'ajv/dist/2020';
import common from './common.schema.json';
import agent from './agent.schema.json';
import cat from './cli/cat.schema.json';
import exportSchema from './cli/export.schema.json';
import hosts from './cli/hosts.schema.json';
import show from './cli/show.schema.json';
import validate from './cli/validate.schema.json';
import vfioInfo from './cli/vfio-info.schema.json';

export type JsonSchema = Record<string, unknown> & { $id?: string; $defs?: Record<string, JsonSchema> };

export const COMMON_SCHEMA = common as JsonSchema;
export const AGENT_SCHEMA = agent as JsonSchema;
/** CLI command → the schema of its `--json` output (`record --json` writes a topology: lib/topology/schema.json). */
export const CLI_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  cat: cat as JsonSchema,
  export: exportSchema as JsonSchema,
  hosts: hosts as JsonSchema,
  show: show as JsonSchema,
  validate: validate as JsonSchema,
  'vfio-info': vfioInfo as JsonSchema,
};

/** An Ajv (draft 2020-12, strict) holding every schema here, addressable by `$id`. */
export function schemaAjv(): Ajv2020 {
  // oneOf branches name properties declared one level up, which strictRequired would reject.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: false });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  for (const s of [COMMON_SCHEMA, AGENT_SCHEMA, ...Object.values(CLI_SCHEMAS)]) ajv.addSchema(s);
  return ajv;
}
