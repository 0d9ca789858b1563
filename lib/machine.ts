// SPDX-License-Identifier: GPL-2.0-only
/**
 * The composition root: one emulated machine = a memfs volume holding /sys and /dev, the host
 * model under a kernel profile, the process's memory, fd table and credentials. Nothing is
 * global: any number of machines can live side by side.
 */
import { Superblock } from '@jsonjoy.com/fs-core';
import { Volume, createFsFromVolume } from 'memfs';
import type { IFs } from 'memfs';
import { UserMemory } from './abi/uaccess';
import { Credentials, ROOT, permitted } from './cred';
import { kerr } from './errno';
import { DevNode } from './fs/chardev';
import { MemfsRenderer } from './fs/render';
import { Syscalls } from './fs/syscalls';
import { Host } from './host';
import { resolveHost } from './hosts';
import { KernelProfile, kernelProfile } from './kernel/profile';
import type { Attribute, SysTree } from './sysfs/attribute';
import { buildSysfsTree } from './sysfs/tree';
import { vfioInit } from './vfio/vfio_main';
import { Topology, TopologyInput, topologyFromJSON } from './topology/topology';

const PAGE_SIZE = 4096;

export interface MachineOptions {
  /** Run the host under another kernel version ("5.3", "latest") than its topology names. */
  readonly kernel?: string;
  /** The caller's credentials (default: root with every capability). */
  readonly cred?: Credentials;
}

/** Kernel module parameters the machine exposes (from the topology's cmdline, settable later). */
export interface ModuleParams {
  /** vfio_iommu_type1.dma_entry_limit (default 65535) */
  dma_entry_limit: number;
  /** vfio_iommu_type1.allow_unsafe_interrupts */
  allow_unsafe_interrupts: boolean;
  /** vfio.enable_unsafe_noiommu_mode */
  enable_unsafe_noiommu_mode: boolean;
}

/** A subsystem's /dev nodes, recomputed on every change (e.g. /dev/vfio/<group>). */
export type DevNodeProvider = (m: Machine) => DevNode[];
/** A subsystem's extra sysfs entries (e.g. /sys/module/…/parameters). */
export type SysfsProvider = (m: Machine, tree: SysTree) => void;

export class Machine {
  readonly topology: Topology;
  readonly kernel: KernelProfile;
  readonly host: Host;
  readonly vol: Volume;
  /** A node-`fs`-compatible API (sync, callback, promises) over the emulated tree. */
  readonly fs: IFs;
  /** Raw syscalls returning `>= 0` or `-errno`. */
  readonly sys: Syscalls;
  /** The emulated process's address space (what `sys.mmap` hands out, what ioctls dereference). */
  readonly mem = new UserMemory();
  readonly params: ModuleParams;
  private credentials: Credentials;
  private readonly renderer: MemfsRenderer;
  private readonly devProviders: DevNodeProvider[] = [];
  private readonly sysfsProviders: SysfsProvider[] = [];
  private devNodes = new Map<string, DevNode>();
  private renderQueued = false;
  /** Set once the constructor has wired every subsystem; registrations after that re-render. */
  private started = false;
  private rendering = false;

  constructor(topology: Topology, opts: MachineOptions = {}) {
    this.topology = topology;
    this.kernel = kernelProfile(opts.kernel ?? topology.kernel);
    this.credentials = opts.cred ?? ROOT;
    const c = topology.cmdline;
    this.params = {
      dma_entry_limit: c['vfio_iommu_type1.dma_entry_limit'] ?? 65535,
      allow_unsafe_interrupts: c['vfio_iommu_type1.allow_unsafe_interrupts'] ?? false,
      enable_unsafe_noiommu_mode: c['vfio.enable_unsafe_noiommu_mode'] ?? false,
    };
    this.host = new Host(topology, this.kernel);
    this.vol = new Volume(new Superblock({ process: memfsProcess() }));
    this.fs = createFsFromVolume(this.vol);
    this.renderer = new MemfsRenderer(this.vol, (path, attr, data, pos) => this.storeFromFs(path, attr, data, pos));
    this.sys = new Syscalls({
      vol: this.vol,
      mem: this.mem,
      cred: () => this.credentials,
      attributeAt: (p) => this.attributeAt(p),
      devNodeAt: (p) => this.devNodes.get(p),
      store: (attr, data, pos) => this.runStore(attr, data, pos),
    });
    this.host.onChange(() => this.render());
    // Subsystems register their /dev and /sys providers before the first render, so start-up
    // renders the tree once.
    if (topology.kconfig.CONFIG_VFIO) vfioInit(this);
    this.started = true;
    this.render();
  }

  get cred(): Credentials {
    return this.credentials;
  }

  /** Act as another user from now on (e.g. `user(1000)` from lib/cred). */
  setCredentials(cred: Credentials): void {
    this.credentials = cred;
  }

  registerDevNodes(p: DevNodeProvider): void {
    this.devProviders.push(p);
    if (this.started) this.render();
  }

  registerSysfs(p: SysfsProvider): void {
    this.sysfsProviders.push(p);
    if (this.started) this.render();
  }

  /** Re-derive /sys and /dev from the model and bring the memfs tree in step. */
  render(): void {
    if (this.rendering) {
      this.renderQueued = true;
      return;
    }
    this.rendering = true;
    try {
      do {
        this.renderQueued = false;
        const tree = buildSysfsTree(this.host);
        for (const p of this.sysfsProviders) p(this, tree);
        tree.set('/dev', { kind: 'dir' });
        const nodes = new Map<string, DevNode>();
        for (const p of this.devProviders) for (const n of p(this)) nodes.set(n.path, n);
        for (const n of nodes.values())
          tree.set(n.path, { kind: 'chardev', mode: n.mode, major: n.major, minor: n.minor, uid: n.uid, gid: n.gid });
        this.devNodes = nodes;
        this.renderer.apply(tree);
      } while (this.renderQueued);
    } finally {
      this.rendering = false;
    }
  }

  private attributeAt(path: string): Attribute | undefined {
    const n = this.renderer.lookup(path);
    return n?.kind === 'file' ? n.attr : undefined;
  }

  /**
   * One write(2) to a sysfs file: nothing to store is 0 without calling store(); a text
   * attribute's store sees at most PAGE_SIZE bytes wherever the file position is.
   * @see fs/sysfs/file.c:sysfs_kf_write, fs/kernfs/file.c:kernfs_fop_write_iter
   */
  private runStore(attr: Attribute, data: Uint8Array, pos: number): number {
    if (!attr.store) throw kerr('EIO');
    if (data.length === 0) return 0;
    if (!attr.binary) return attr.store(data.subarray(0, PAGE_SIZE), { cred: this.credentials, pos: 0 });
    return attr.store(data, { cred: this.credentials, pos });
  }

  /**
   * Writes through `machine.fs`: memfs checked the mode bits against the real process, so the
   * emulated caller's DAC check happens here. @note emulation: an unprivileged caller's EACCES
   * surfaces at write(2) rather than open(2) on this path; `machine.sys` fails the open.
   */
  private storeFromFs(path: string, attr: Attribute, data: Uint8Array, pos: number): number {
    if (!permitted(this.credentials, attr.mode, 0, 0, 2)) throw kerr('EACCES');
    return this.runStore(attr, data, pos);
  }
}

/**
 * memfs asks `process.getuid()`/`getgid()` on every path step; those are real syscalls and were
 * most of a machine's construction time. The answers cannot change under us, so ask once.
 */
function memfsProcess(): NonNullable<ConstructorParameters<typeof Superblock>[0]>['process'] {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  return {
    getuid: () => uid,
    getgid: () => gid,
    cwd: () => '/',
    platform: process.platform,
    env: {},
    emitWarning: (m: string | Error) => process.emitWarning(m),
  } as NonNullable<ConstructorParameters<typeof Superblock>[0]>['process'];
}

/**
 * A machine from a built-in host name ("intel-vtd-server"), a topology file path, a topology
 * document (the JSON/YAML shape as an object) or an already parsed Topology.
 */
export function createMachine(host: string | Topology | TopologyInput, opts: MachineOptions = {}): Machine {
  let topology: Topology;
  if (typeof host === 'string') topology = resolveHost(host);
  else if (isTopology(host)) topology = host;
  else topology = topologyFromJSON(host);
  return new Machine(topology, opts);
}

function isTopology(x: unknown): x is Topology {
  return typeof x === 'object' && x !== null && 'source' in x && 'firmware' in x && Array.isArray((x as Topology).iommus);
}
