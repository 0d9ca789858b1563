// SPDX-License-Identifier: GPL-2.0-only
/**
 * `--plugin FILE`: a module (TypeScript under ts-node, or JavaScript) whose default export (or
 * `plugin` export) is an AbiPlugin; its sysfs-schema entries come from the plugin or from
 * `<file>.sysfs-schema.json` beside it. The shipped schema plus the plugins' entries is the
 * schema the validator uses on a machine with the plugins loaded.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { RawSchemaFile, SCHEMA_DIR, SchemaFileError, SysfsSchema, META_SCHEMA_FILE, validateSchemaFile } from '../sysfs/schema';
import { AbiPlugin, PluginError, definePlugin } from './plugin';

/** `plugins/usable_regions.ts` → `plugins/usable_regions.sysfs-schema.json` */
export const schemaFileBeside = (file: string): string => file.replace(/\.(ts|js|cjs)$/, '') + '.sysfs-schema.json';

export function loadPluginFile(file: string): AbiPlugin {
  const abs = path.resolve(file);
  if (!nodeFs.existsSync(abs) || !nodeFs.statSync(abs).isFile()) throw new PluginError(`--plugin ${file}: no such file`);
  let mod: { default?: unknown; plugin?: unknown };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(abs) as typeof mod;
  } catch (e) {
    throw new PluginError(`--plugin ${file}: cannot load: ${(e as Error).message.split('\n')[0]}`);
  }
  const p = (mod.default ?? mod.plugin) as AbiPlugin | undefined;
  if (!p || typeof p !== 'object' || typeof p.name !== 'string') throw new PluginError(`--plugin ${file}: the module exports no plugin (export default definePlugin({ name, summary, modules, … }))`);
  definePlugin(p);
  let sysfsSchema = p.sysfsSchema;
  const beside = schemaFileBeside(abs);
  if (!sysfsSchema && nodeFs.existsSync(beside)) {
    try {
      sysfsSchema = JSON.parse(nodeFs.readFileSync(beside, 'utf8')) as RawSchemaFile;
    } catch (e) {
      throw new PluginError(`${beside}: not valid JSON: ${(e as Error).message}`);
    }
  }
  if (sysfsSchema) {
    try {
      validateSchemaFile(sysfsSchema, path.basename(beside), SCHEMA_DIR);
    } catch (e) {
      if (e instanceof SchemaFileError) throw new PluginError(`plugin ${p.name}: sysfs schema: ${e.message}`);
      throw e;
    }
  }
  return { ...p, ...(sysfsSchema ? { sysfsSchema } : {}), file: abs };
}

/** The shipped sysfs schema plus every plugin's entries. */
export function schemaWithPlugins(plugins: readonly AbiPlugin[]): SysfsSchema {
  const names = nodeFs.readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json') && f !== META_SCHEMA_FILE).sort();
  const files = names.map((f) => ({ file: f, raw: validateSchemaFile(JSON.parse(nodeFs.readFileSync(path.join(SCHEMA_DIR, f), 'utf8')), f) }));
  for (const p of plugins) if (p.sysfsSchema) files.push({ file: `plugin:${p.name}`, raw: p.sysfsSchema });
  return new SysfsSchema(files);
}
