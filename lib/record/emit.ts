// SPDX-License-Identifier: GPL-2.0-only
/** A recorded topology as text, in the built-in hosts' style: one flow map per device. */
import * as YAML from 'yaml';

export function formatTopology(doc: Record<string, unknown>, format: 'yaml' | 'json', header: readonly string[] = []): string {
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  const d = new YAML.Document(doc);
  const devices = d.get('devices', true);
  if (YAML.isSeq(devices)) for (const item of devices.items) if (YAML.isMap(item)) item.flow = true;
  const fw = d.get('firmware', true);
  if (YAML.isMap(fw))
    for (const pair of fw.items) if (YAML.isSeq(pair.value)) for (const e of pair.value.items) if (YAML.isMap(e)) e.flow = true;
  if (header.length) d.commentBefore = header.map((l) => ` ${l}`).join('\n');
  // Quoted: a YAML 1.1 reader would take 0000:00:00.2 for a sexagesimal number.
  return d.toString({ lineWidth: 0, flowCollectionPadding: true, defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
}
