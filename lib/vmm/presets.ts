// SPDX-License-Identifier: GPL-2.0-only
/**
 * Guest memory layouts of common VMMs, computed as the VMM computes them for a RAM size.
 *
 * QEMU x86 (q35, pc/i440fx):
 * @see qemu hw/i386/pc_q35.c:pc_q35_init (lowmem 0x80000000 when ram_size >= 0xb0000000, else 0xb0000000; max-ram-below-4g caps it)
 * @see qemu hw/i386/pc_piix.c:pc_init1 (max_ram_below_4g default 0xe0000000; 0xc0000000 for a larger machine with gigabyte_align)
 * @see qemu hw/i386/x86.c:x86_machine_initfn (above_4g_mem_start = 4 GiB)
 * @see qemu hw/i386/pc.c:pc_memory_init (AMD vCPU and enforce_amd_1tb_hole: above-4G RAM moves to 1 TiB when
 *      pc_max_used_gpa >= AMD_HT_START 0xfd00000000; HT range e820-reserved when phys_bits >= 40),
 *      pc_max_used_gpa (64-bit: pc_pci_hole64_start() + pci_hole64_size - 1), pc_pci_hole64_start (1 GiB aligned)
 * @see qemu hw/i386/pc_q35.c, pc_piix.c:pc_*_7_0_machine_options (enforce_amd_1tb_hole = false: machine types <= 7.0)
 * @see qemu hw/pci-host/q35.c Q35_PCI_HOST_HOLE64_SIZE_DEFAULT (1 << 35); MCH pci_hole from PCIEXBAR_DEFAULT + MAX (0xc0000000) to IO_APIC_DEFAULT_ADDRESS - 1
 * @see qemu hw/pci-host/i440fx.c I440FX_PCI_HOST_HOLE64_SIZE_DEFAULT (1 << 31); pci_hole from below_4g_mem_size to IO_APIC_DEFAULT_ADDRESS - 1
 * QEMU arm virt:
 * @see qemu hw/arm/virt.c:base_memmap (VIRT_FLASH 0, VIRT_GIC_* 0x08000000.., VIRT_PCIE_MMIO 0x10000000, VIRT_PCIE_ECAM 0x3f000000, VIRT_MEM at 1 GiB, LEGACY_RAMLIMIT 255 GiB),
 *      virt_set_memmap / virt_set_high_memmap (the high IO region never below 256 GiB; REDIST2 64 MiB, ECAM 256 MiB, PCIE_MMIO 512 GiB, each aligned to its size)
 * cloud-hypervisor (v53.0):
 * @see cloud-hypervisor arch/src/x86_64/layout.rs (MEM_32BIT_RESERVED_START 0xc0000000: 640 MiB of 32-bit devices, PCI_MMCONFIG 256 MiB; IOAPIC 0xfec00000; APIC 0xfee00000; RAM_64BIT_START 4 GiB)
 * @see cloud-hypervisor arch/src/x86_64/mod.rs:arch_memory_regions, vmm/src/memory_manager.rs:create_memory_regions_from_zones (RAM regions filled in order)
 * @see cloud-hypervisor arch/src/aarch64/layout.rs (RAM_START 1 GiB, MEM_32BIT_RESERVED 0xfc000000 + 64 MiB, PCI_MMCONFIG 0x30000000, 32-bit devices 0x10000000 + 512 MiB)
 */
import { compareKernelVersion, parseKernelVersion } from '../kernel/version';
import { GuestMap, GuestRegion, GuestRegionKind, loadGuestMapFile } from './guest_map';
import { GiB, MiB, KiB, TiB, alignUp, formatSize, parseSize, shortHex } from './size';

export const AMD_HT_START = 0xfd00000000n;
export const AMD_HT_END = 0xffffffffffn;
export const AMD_ABOVE_1TB_START = AMD_HT_END + 1n;

export type CpuVendor = 'intel' | 'amd';

export interface PresetArgs {
  readonly ram: bigint;
  /** x86: the vCPU vendor (QEMU relocates high RAM for AMD vCPUs only). */
  readonly cpu: CpuVendor;
  /** QEMU machine-type version (`7.0`, `8.2`, `latest`). */
  readonly machine: string;
  /** The 64-bit PCI hole's size (QEMU pci-hole64-size). */
  readonly hole64?: bigint | undefined;
  /** QEMU max-ram-below-4g. */
  readonly maxRamBelow4g?: bigint | undefined;
}

export interface Preset {
  readonly name: string;
  readonly summary: string;
  readonly arch: 'x86_64' | 'aarch64';
  readonly defaultRam: bigint;
  /** `key=value` options the preset takes, with what they mean. */
  readonly options: Readonly<Record<string, string>>;
  build(a: PresetArgs): GuestMap;
}

const region = (name: string, kind: GuestRegionKind, start: bigint, size: bigint, note?: string): GuestRegion => ({ name, kind, start, last: start + size - 1n, ...(note ? { note } : {}) });

const machineAtLeast = (machine: string, v: string): boolean => {
  if (machine === 'latest') return true;
  const a = parseKernelVersion(machine);
  const b = parseKernelVersion(v);
  return !!a && !!b && compareKernelVersion(a, b) >= 0;
};

interface PcFlavour {
  readonly name: 'q35' | 'pc';
  lowmem(ram: bigint, maxBelow4g: bigint | undefined): bigint;
  readonly hole64: bigint;
  readonly pciHoleStart: (below: bigint) => bigint;
}

const Q35: PcFlavour = {
  name: 'q35',
  lowmem(ram, max) {
    let lowmem = ram >= 0xb0000000n ? 0x80000000n : 0xb0000000n;
    if (max !== undefined && lowmem > max) lowmem = max;
    return lowmem;
  },
  hole64: 1n << 35n,
  pciHoleStart: () => 0xc0000000n,
};

const PC: PcFlavour = {
  name: 'pc',
  lowmem(ram, max) {
    const m = max ?? 0xe0000000n;
    let lowmem = m;
    // gigabyte_align (every machine type since 2.x): a large machine splits at 3 GiB.
    if (ram >= m && lowmem > 0xc0000000n) lowmem = 0xc0000000n;
    return lowmem;
  },
  hole64: 1n << 31n,
  pciHoleStart: (below) => below,
};

/** QEMU's x86 layout: `relocate` false forces the pre-7.1 / Intel layout (high RAM at 4 GiB). */
function pcLayout(f: PcFlavour, a: PresetArgs, relocate = true): GuestMap {
  const lowmem = f.lowmem(a.ram, a.maxRamBelow4g);
  const below = a.ram >= lowmem ? lowmem : a.ram;
  const above = a.ram - below;
  const hole64 = a.hole64 ?? f.hole64;
  const why: string[] = [
    `${f.name === 'q35' ? 'pc_q35_init' : 'pc_init1'}: ${formatSize(a.ram)} of RAM, lowmem ${shortHex(lowmem)} → ${formatSize(below)} below 4 GiB, ${formatSize(above)} above`,
  ];
  let aboveStart = 4n * GiB;
  const enforce = relocate && machineAtLeast(a.machine, '7.1');
  const amd = a.cpu === 'amd';
  if (amd && enforce) {
    // pc_max_used_gpa: the 64-bit PCI hole starts 1 GiB-aligned after above-4G RAM.
    const maxUsed = alignUp(aboveStart + above, GiB) + hole64 - 1n;
    if (maxUsed >= AMD_HT_START) {
      aboveStart = AMD_ABOVE_1TB_START;
      why.push(`pc_memory_init: AMD vCPU, machine ${a.machine} (enforce_amd_1tb_hole): max used GPA ${shortHex(maxUsed)} >= AMD_HT_START ${shortHex(AMD_HT_START)}, above-4G RAM starts at 1 TiB`);
    } else why.push(`pc_memory_init: AMD vCPU: max used GPA ${shortHex(maxUsed)} stays below AMD_HT_START; no relocation`);
  } else if (amd) why.push(`pc_memory_init: AMD vCPU but ${relocate ? `machine ${a.machine} <= 7.0 (enforce_amd_1tb_hole false)` : 'a layout without the relocation'}: above-4G RAM stays at 4 GiB`);
  else why.push('pc_memory_init: Intel vCPU: above-4G RAM at 4 GiB (the relocation is for AMD vCPUs only)');
  const regions: GuestRegion[] = [region('ram-below-4g', 'ram', 0n, below)];
  if (f.name === 'q35') regions.push(region('pcie-ecam', 'device', 0xb0000000n, 256n * MiB, 'MMCONFIG (PCIEXBAR default)'));
  const holeStart = f.pciHoleStart(below);
  if (holeStart < 0xfec00000n) regions.push(region('pci-hole', 'pci-mmio', holeStart, 0xfec00000n - holeStart, '32-bit PCI window: assigned devices\' BARs'));
  regions.push(region('ioapic', 'device', 0xfec00000n, 4n * KiB));
  regions.push(region('lapic', 'device', 0xfee00000n, MiB, 'APIC/MSI window (APIC_DEFAULT_ADDRESS)'));
  regions.push(region('bios', 'device', 0x100000000n - 256n * KiB, 256n * KiB, 'firmware flash/ROM below 4 GiB'));
  let hole64Start = 4n * GiB;
  if (above > 0n) {
    regions.push(region('ram-above-4g', 'ram', aboveStart, above));
    hole64Start = alignUp(aboveStart + above, GiB);
  }
  if (amd && enforce && aboveStart === AMD_ABOVE_1TB_START) {
    regions.push(region('amd-ht', 'reserved', AMD_HT_START, AMD_ABOVE_1TB_START - AMD_HT_START, 'e820 reserved: the AMD HyperTransport range'));
  }
  if (hole64Start <= AMD_HT_END && hole64Start + hole64 - 1n >= AMD_HT_START && regions.some((r) => r.name === 'amd-ht')) hole64Start = AMD_ABOVE_1TB_START;
  regions.push(region('pci-hole64', 'pci-mmio', hole64Start, hole64, `64-bit PCI window (pci-hole64-size ${formatSize(hole64)})`));
  return { name: `${f.name}:${formatSize(a.ram).replace(' ', '')}`, arch: 'x86_64', vmm: `QEMU ${f.name} (machine ${a.machine}, ${a.cpu} vCPU)`, regions: regions.sort((x, y) => (x.start < y.start ? -1 : 1)), source: '', derivation: why };
}

const x86Options = {
  cpu: 'intel | amd: the vCPU vendor (default: the host\'s; QEMU moves above-4G RAM to 1 TiB for AMD vCPUs only)',
  machine: 'QEMU machine-type version (default latest; 7.0 and older do not avoid the AMD HyperTransport hole)',
  hole64: 'size of the 64-bit PCI hole (pci-hole64-size)',
  'max-ram-below-4g': 'QEMU max-ram-below-4g: cap the RAM below 4 GiB',
};

function virtLayout(a: PresetArgs): GuestMap {
  const ramBase = GiB;
  const regions: GuestRegion[] = [
    region('flash', 'device', 0n, 0x08000000n, 'boot ROM / UEFI flash'),
    region('gic-dist', 'device', 0x08000000n, 0x10000n),
    region('gic-its', 'device', 0x08080000n, 0x20000n),
    region('gic-redist', 'device', 0x080a0000n, 0xf60000n),
    region('uart', 'device', 0x09000000n, 0x1000n),
    region('pcie-mmio', 'pci-mmio', 0x10000000n, 0x2eff0000n, '32-bit PCIe window: assigned devices\' BARs'),
    region('pcie-pio', 'device', 0x3eff0000n, 0x10000n),
    region('pcie-ecam', 'device', 0x3f000000n, 0x01000000n),
    region('ram', 'ram', ramBase, a.ram),
  ];
  // virt_set_memmap: the high IO region starts after RAM (1 GiB aligned), never below 256 GiB.
  let base = alignUp(ramBase + a.ram, GiB);
  if (base < 256n * GiB) base = 256n * GiB;
  const high: [string, GuestRegionKind, bigint][] = [
    ['high-gic-redist2', 'device', 64n * MiB],
    ['high-pcie-ecam', 'device', 256n * MiB],
    ['high-pcie-mmio', 'pci-mmio', 512n * GiB],
  ];
  for (const [name, kind, size] of high) {
    base = alignUp(base, size);
    regions.push(region(name, kind, base, size));
    base += size;
  }
  return {
    name: `virt:${formatSize(a.ram).replace(' ', '')}`,
    arch: 'aarch64',
    vmm: 'QEMU arm virt',
    regions,
    source: '',
    derivation: [`virt base_memmap: RAM is one contiguous block at VIRT_MEM 0x40000000 (${formatSize(a.ram)}); devices below 1 GiB; high IO regions from ${shortHex(alignUp(ramBase + a.ram, GiB) < 256n * GiB ? 256n * GiB : alignUp(ramBase + a.ram, GiB))}`],
  };
}

function chX86Layout(a: PresetArgs): GuestMap {
  const low = a.ram < 0xc0000000n ? a.ram : 0xc0000000n;
  const regions: GuestRegion[] = [
    region('ram-low', 'ram', 0n, low),
    region('mem-32bit-devices', 'pci-mmio', 0xc0000000n, 640n * MiB, '32-bit PCI devices (MEM_32BIT_DEVICES)'),
    region('pci-mmconfig', 'device', 0xe8000000n, 256n * MiB),
    region('ioapic', 'device', 0xfec00000n, 0x20n),
    region('apic', 'device', 0xfee00000n, 4n * KiB),
  ];
  if (a.ram > low) regions.push(region('ram-64bit', 'ram', 4n * GiB, a.ram - low));
  return {
    name: `cloud-hypervisor:${formatSize(a.ram).replace(' ', '')}`,
    arch: 'x86_64',
    vmm: 'cloud-hypervisor (x86_64)',
    regions: regions.sort((x, y) => (x.start < y.start ? -1 : 1)),
    source: '',
    derivation: [`arch_memory_regions: RAM fills 0..3 GiB, then from RAM_64BIT_START 4 GiB (${formatSize(a.ram - low)} there); no relocation around the AMD HyperTransport hole`],
  };
}

function chArmLayout(a: PresetArgs): GuestMap {
  const lowMax = 0xfc000000n - GiB;
  const low = a.ram < lowMax ? a.ram : lowMax;
  const regions: GuestRegion[] = [
    region('uefi', 'device', 0n, 4n * MiB),
    region('gic-and-legacy', 'device', 4n * MiB, 0x10000000n - 4n * MiB),
    region('mem-32bit-devices', 'pci-mmio', 0x10000000n, 0x20000000n),
    region('pci-mmconfig', 'device', 0x30000000n, 256n * MiB),
    region('ram-low', 'ram', GiB, low),
    region('mem-32bit-reserved', 'reserved', 0xfc000000n, 64n * MiB),
  ];
  if (a.ram > low) regions.push(region('ram-64bit', 'ram', 4n * GiB, a.ram - low));
  return {
    name: `cloud-hypervisor-arm64:${formatSize(a.ram).replace(' ', '')}`,
    arch: 'aarch64',
    vmm: 'cloud-hypervisor (aarch64)',
    regions,
    source: '',
    derivation: ['arch_memory_regions: RAM from RAM_START 1 GiB to 0xfc000000, then from 4 GiB'],
  };
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  q35: { name: 'q35', summary: 'QEMU x86 q35 (low/high RAM split; high RAM at 1 TiB for AMD vCPUs from machine 7.1)', arch: 'x86_64', defaultRam: 16n * GiB, options: x86Options, build: (a) => pcLayout(Q35, a) },
  pc: { name: 'pc', summary: 'QEMU x86 pc/i440fx (split at 3 GiB above 3.5 GiB of RAM; same AMD rule)', arch: 'x86_64', defaultRam: 16n * GiB, options: x86Options, build: (a) => pcLayout(PC, a) },
  'x86-1t': {
    name: 'x86-1t',
    summary: 'a 1 TiB x86 guest with high RAM contiguous from 4 GiB (QEMU q35 <= 7.0 or an Intel vCPU model): meets the AMD HyperTransport hole',
    arch: 'x86_64',
    defaultRam: TiB,
    options: { hole64: x86Options.hole64, 'max-ram-below-4g': x86Options['max-ram-below-4g'] },
    build: (a) => ({ ...pcLayout(Q35, a, false), name: `x86-1t:${formatSize(a.ram).replace(' ', '')}`, vmm: 'QEMU q35 without the 1 TiB relocation' }),
  },
  virt: { name: 'virt', summary: 'QEMU arm virt (RAM contiguous at 0x40000000)', arch: 'aarch64', defaultRam: 16n * GiB, options: {}, build: virtLayout },
  'cloud-hypervisor': { name: 'cloud-hypervisor', summary: 'cloud-hypervisor x86_64 (RAM 0..3 GiB, then from 4 GiB)', arch: 'x86_64', defaultRam: 16n * GiB, options: {}, build: chX86Layout },
  'cloud-hypervisor-arm64': { name: 'cloud-hypervisor-arm64', summary: 'cloud-hypervisor aarch64 (RAM from 1 GiB to 0xfc000000, then from 4 GiB)', arch: 'aarch64', defaultRam: 16n * GiB, options: {}, build: chArmLayout },
};

export class PresetError extends Error {
  override readonly name = 'PresetError';
}

export interface PresetSpec {
  readonly preset: Preset;
  readonly ram: bigint;
  readonly options: Readonly<Record<string, string>>;
}

/** Whether `text` names a preset (`q35`, `q35:16G,cpu=amd`) rather than a file. */
export const isPresetSpec = (text: string): boolean => Object.hasOwn(PRESETS, text.split(/[:,]/)[0]!) && !/[/\\]/.test(text);

/** `NAME[:RAM][,key=value…]` */
export function parsePresetSpec(text: string): PresetSpec {
  const [head, ...opts] = text.split(',');
  const [name, ramText, extra] = head!.split(':');
  const preset = Object.hasOwn(PRESETS, name!) ? PRESETS[name!]! : undefined;
  if (!preset || extra !== undefined) throw new PresetError(`not a preset: ${JSON.stringify(text)} (presets: ${Object.keys(PRESETS).join(', ')}; e.g. q35:16G or q35:2T,cpu=amd,machine=7.0)`);
  let ram = preset.defaultRam;
  if (ramText !== undefined) {
    const r = parseSize(ramText);
    if (r === undefined || r === 0n) throw new PresetError(`${name}: not a RAM size: ${JSON.stringify(ramText)} (e.g. 16G, 512M, 2T)`);
    if (r % (2n * MiB) !== 0n) throw new PresetError(`${name}: RAM ${ramText} is not a multiple of 2 MiB`);
    ram = r;
  }
  const options: Record<string, string> = {};
  for (const o of opts) {
    const m = /^([a-z0-9-]+)=(.+)$/.exec(o);
    if (!m || !Object.hasOwn(preset.options, m[1]!))
      throw new PresetError(`${name}: unknown option ${JSON.stringify(o)}${Object.keys(preset.options).length ? ` (options: ${Object.keys(preset.options).join(', ')})` : ' (it takes none)'}`);
    options[m[1]!] = m[2]!;
  }
  return { preset, ram, options };
}

/** Build a preset's map; `defaults` fills what the spec leaves out (the host's vCPU vendor). */
export function buildPreset(spec: PresetSpec, defaults: { cpu?: CpuVendor } = {}): GuestMap {
  const o = spec.options;
  const cpu = o['cpu'] ?? defaults.cpu ?? 'intel';
  if (cpu !== 'intel' && cpu !== 'amd') throw new PresetError(`${spec.preset.name}: cpu must be intel or amd, got ${JSON.stringify(cpu)}`);
  const machine = o['machine'] ?? 'latest';
  if (machine !== 'latest' && !parseKernelVersion(machine)) throw new PresetError(`${spec.preset.name}: machine must be a QEMU version like 7.0 or latest, got ${JSON.stringify(machine)}`);
  const size = (k: string): bigint | undefined => {
    if (o[k] === undefined) return undefined;
    const v = parseSize(o[k]!);
    if (v === undefined) throw new PresetError(`${spec.preset.name}: ${k} must be a size, got ${JSON.stringify(o[k])}`);
    return v;
  };
  const map = spec.preset.build({ ram: spec.ram, cpu, machine, hole64: size('hole64'), maxRamBelow4g: size('max-ram-below-4g') });
  const text = [`${spec.preset.name}:${formatSize(spec.ram).replace(' ', '')}`, ...Object.entries(o).map(([k, v]) => `${k}=${v}`)].join(',');
  return { ...map, source: `preset:${text}` };
}

/** `--guest FILE|PRESET`: a preset spec, else a guest map file. */
export function resolveGuest(spec: string, defaults: { cpu?: CpuVendor } = {}): GuestMap {
  if (isPresetSpec(spec)) return buildPreset(parsePresetSpec(spec), defaults);
  return loadGuestMapFile(spec);
}
