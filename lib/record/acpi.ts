// SPDX-License-Identifier: GPL-2.0-only
/**
 * Firmware entries read back from a tree's /sys/firmware/acpi/tables (a real host's, readable by
 * root, or an export's): the RMRRs of DMAR, the IVMDs of IVRS, the RMR nodes of IORT and the
 * ITS doorbells an IORT Hi161x SMMU reserves (their addresses from MADT). The recorder starts
 * from these and fits only what they leave unexplained.
 */
import { AcpiTableError, parseDmar, parseIort, parseIvrs } from '../acpi/tables';
import type { RecordNote } from './recorder';
import type { SysSource } from './source';

type Raw = Record<string, unknown>;
const TABLES = '/sys/firmware/acpi/tables';
const hex = (n: bigint) => `0x${n.toString(16)}`;
const bdfOf = (bus: number, dev: number, fn: number) => `0000:${bus.toString(16).padStart(2, '0')}:${dev.toString(16).padStart(2, '0')}.${fn}`;

/** Adds firmware.{rmrr,ivmd,iortRmr,its} from the tables the source has; returns the table names used. */
export function firmwareFromAcpi(doc: Raw, src: SysSource, note: (l: RecordNote['level'], w: string, m: string) => void): string[] {
  const devices = doc.devices as Raw[];
  const known = new Set(devices.map((d) => d.bdf as string));
  const parentOf = new Map(devices.map((d) => [d.bdf as string, d.parent as string | undefined]));
  const secondaryBus = (bridge: string): number | undefined => {
    const child = [...parentOf].find(([, p]) => p === bridge)?.[0];
    return child === undefined ? undefined : parseInt(child.slice(5, 7), 16);
  };
  // A scope path walks from its start bus through each bridge's secondary bus.
  const resolve = (bus: number, path: readonly (readonly [number, number])[]): string | undefined => {
    let b: number | undefined = bus;
    let bdf: string | undefined;
    for (const [dev, fn] of path) {
      if (b === undefined) return undefined;
      bdf = bdfOf(b, dev, fn);
      if (!known.has(bdf)) return undefined;
      b = secondaryBus(bdf);
    }
    return bdf;
  };
  const ofRid = (rid: number) => {
    const bdf = bdfOf(rid >> 8, (rid >> 3) & 0x1f, rid & 7);
    return known.has(bdf) ? bdf : undefined;
  };
  const ofSid = (sid: number) =>
    devices.filter((d) => ((d.streamIds as number[] | undefined) ?? [parseInt(String(d.bdf).slice(5, 7), 16) << 8 | (parseInt(String(d.bdf).slice(8, 10), 16) << 3) | parseInt(String(d.bdf).slice(11), 16)]).includes(sid)).map((d) => d.bdf as string);
  const read = (name: string): Uint8Array | undefined => {
    if (src.kind(`${TABLES}/${name}`) !== 'file') return undefined;
    const b = src.read(`${TABLES}/${name}`);
    if (!b || !b.length) {
      note('info', `${TABLES}/${name}`, 'not readable (run as root to read the firmware tables); firmware entries are fitted from reserved_regions instead');
      return undefined;
    }
    return Uint8Array.from(b);
  };
  const fw: Record<string, Raw[]> = {};
  const used: string[] = [];
  const attempt = (name: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof AcpiTableError)) throw e;
      note('warning', `${TABLES}/${name}`, `${e.message}; not used`);
    }
  };
  const dmar = read('DMAR');
  if (dmar)
    attempt('DMAR', () => {
      const r = parseDmar(dmar, resolve, `${TABLES}/DMAR`);
      if (r.rmrr.length) fw.rmrr = r.rmrr.map((x) => ({ base: hex(x.base), end: hex(x.end), devices: [...x.devices] }));
      if (r.unresolved) note('info', `${TABLES}/DMAR`, `${r.unresolved} RMRR device scope(s) name no PCI device of the tree; dropped`);
      used.push('DMAR');
    });
  const ivrs = read('IVRS');
  if (ivrs)
    attempt('IVRS', () => {
      const r = parseIvrs(ivrs, ofRid, `${TABLES}/IVRS`);
      if (r.ivmd.length)
        fw.ivmd = r.ivmd.map((x) => ({ start: hex(x.start), length: hex(x.length), devices: [...x.devices], ...(x.exclusion ? { exclusion: true } : {}), ...(!x.read ? { read: false } : {}), ...(!x.write ? { write: false } : {}) }));
      if (r.unresolved) note('info', `${TABLES}/IVRS`, `${r.unresolved} IVMD(s) name no PCI device of the tree; dropped`);
      used.push('IVRS');
    });
  const iort = read('IORT');
  if (iort)
    attempt('IORT', () => {
      const r = parseIort(iort, read('APIC'), ofSid, `${TABLES}/IORT`);
      if (r.iortRmr.length) fw.iortRmr = r.iortRmr.map((x) => ({ base: hex(x.base), length: hex(x.length), devices: [...x.devices], ...(x.remapPermitted ? { remapPermitted: true } : {}) }));
      if (r.its.length) fw.its = r.its.map((x) => ({ base: hex(x.base), ...(x.devices ? { devices: x.devices } : {}) }));
      if (r.unresolved) note('info', `${TABLES}/IORT`, `${r.unresolved} RMR stream ID(s) map to no PCI device of the tree; dropped`);
      used.push('IORT');
    });
  if (Object.keys(fw).length) doc.firmware = { ...((doc.firmware as Raw | undefined) ?? {}), ...fw };
  return used;
}
