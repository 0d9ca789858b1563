// SPDX-License-Identifier: GPL-2.0-only
/**
 * The composition root: one emulated machine = a memfs volume holding /sys and /dev, the device
 * model under a kernel profile, the modules loaded in `module_init` order, and the tasks that
 * use it (an init task to start with). Nothing is global: any number of machines can live side
 * by side.
 */
import { Superblock } from '@jsonjoy.com/fs-core';
import { Volume, createFsFromVolume } from 'memfs';
import { Credentials, ROOT, permitted } from './cred';
import { ChrdevRegistry } from './drivers/char_dev';
import { KernelError, isKernelError, kerr } from './errno';
import { guardSysfs } from './fs/kernfs_guard';
import { Process } from './fs/process';
import { MemfsRenderer } from './fs/render';
import type { SyscallHost, Syscalls } from './fs/syscalls';
import { Host, Kernel, KernelModule, ModuleParams, SysfsProvider } from './host';
import { DEFAULT_HOST, resolveHost } from './hosts';
import type { IommuOps } from './iommu/drivers';
import { AbiPlugin, pluginMachineParts } from './plugin/plugin';
import { PAGE_BYTES } from './kernel/page';
import { KernelProfile, kernelProfile } from './kernel/profile';
import type { Attribute, SysTree } from './kernfs/attribute';
import { UserMemory } from './mm/mm';
import { SysfsTreeBuilder } from './sysfs/tree';
import { Task, TaskSet } from './task/sched';
import { Topology, TopologyInput, topologyFromJSON } from './topology/topology';
import { iommufdModule } from './iommufd/main';
import { vfioIommuType1Module } from './vfio/vfio_iommu_type1';
import { vfioModule } from './vfio/vfio_main';
import { vfioPciModule } from './vfio/vfio_pci';

export type { ModuleParams } from './host';

/** The type of node:fs: what `Machine.fs` is. */
export type NodeFs = typeof import('node:fs');

/**
 * The modules every machine loads, in initcall order (drivers/iommu links before drivers/vfio);
 * each is built per its kconfig.
 */
export const MODULES: readonly KernelModule[] = [iommufdModule, vfioModule, vfioIommuType1Module, vfioPciModule];

export interface MachineOptions {
  /** Run the host under another kernel version ("5.3", "latest") than its topology names. */
  readonly kernel?: string;
  /** The init task's credentials (default: root with every capability). */
  readonly cred?: Credentials;
  /** The init task's pid (default 1). */
  readonly pid?: number;
  /** IOMMU drivers to register before the built-in ones; one named like a built-in replaces it (a test's mock). */
  readonly iommuDrivers?: readonly IommuOps[];
  /** Modules to load after the built-in ones (an ABI prototype, a test double). */
  readonly modules?: readonly KernelModule[];
  /** ABI prototypes (lib/plugin): their modules load after `modules`, their IOMMU drivers replace built-ins. */
  readonly plugins?: readonly AbiPlugin[];
}

export interface TaskOptions {
  readonly pid?: number;
  readonly cred?: Credentials;
  readonly comm?: string;
}

class MachineKernel implements Kernel {
  host!: Host;
  readonly chrdevs = new ChrdevRegistry();
  readonly sysfsProviders: SysfsProvider[] = [];

  constructor(
    readonly profile: KernelProfile,
    readonly kconfig: Topology['kconfig'],
    readonly tasks: TaskSet,
    readonly params: ModuleParams,
  ) {}

  registerSysfs(p: SysfsProvider): void {
    this.sysfsProviders.push(p);
  }
}

export class Machine {
  readonly topology: Topology;
  readonly kernel: KernelProfile;
  readonly host: Host;
  readonly vol: Volume;
  /**
   * The node:fs API (sync, callback, promises) over the emulated tree, typed as node:fs so it
   * can be passed wherever code takes `typeof import('node:fs')` or a Pick of it. memfs
   * implements every node:fs function; where it behaves differently from node, memfs' docs say.
   */
  readonly fs: NodeFs;
  readonly params: ModuleParams;
  readonly tasks: TaskSet;
  /** The ABI prototypes loaded into this machine. */
  readonly plugins: readonly AbiPlugin[];
  /** Names of the modules loaded, in load order. */
  readonly modules: string[] = [];
  /** Modules whose init failed (as `modprobe` would report them), with the errno. */
  readonly failedModules: { readonly name: string; readonly error: KernelError }[] = [];
  private readonly k: MachineKernel;
  private readonly renderer: MemfsRenderer;
  private readonly sysfs: SysfsTreeBuilder;
  private readonly syscallHost: SyscallHost;
  private readonly procs = new WeakMap<Task, Process>();
  private renderQueued = false;
  /** Set once the constructor has wired every subsystem; registrations after that re-render. */
  private started = false;
  private rendering = false;

  constructor(topology: Topology, opts: MachineOptions = {}) {
    this.topology = topology;
    this.plugins = opts.plugins ?? [];
    const parts = pluginMachineParts(this.plugins);
    // --kernel replaces the whole kernel: the topology's vendor features go with its own version.
    this.kernel = opts.kernel !== undefined ? kernelProfile(opts.kernel) : kernelProfile(topology.kernel, topology.kernelFeatures);
    const c = topology.cmdline;
    this.params = {
      dma_entry_limit: c['vfio_iommu_type1.dma_entry_limit'] ?? 65535,
      allow_unsafe_interrupts: c['vfio_iommu_type1.allow_unsafe_interrupts'] ?? false,
      enable_unsafe_noiommu_mode: c['vfio.enable_unsafe_noiommu_mode'] ?? false,
      iommufd_allow_unsafe_interrupts: c['iommufd.allow_unsafe_interrupts'] ?? false,
      disable_hugepages: false,
      nointxmask: false,
      disable_vga: false,
      disable_idle_d3: false,
      enable_sriov: false,
      disable_denylist: false,
    };
    this.tasks = new TaskSet(new UserMemory(), opts.cred ?? ROOT, opts.pid !== undefined ? { pid: opts.pid } : {});
    const k = new MachineKernel(this.kernel, topology.kconfig, this.tasks, this.params);
    this.k = k;
    this.vol = new Volume(new Superblock({ process: memfsProcess() }));
    // memfs' own IFs type differs from node's only in overload spellings; /sys behaves like sysfs.
    this.fs = guardSysfs(createFsFromVolume(this.vol), () => this.cred) as unknown as NodeFs;
    this.renderer = new MemfsRenderer(this.vol, (path, attr, data, pos) => this.storeFromFs(path, attr, data, pos));
    this.syscallHost = {
      vol: this.vol,
      attributeAt: (p) => this.attributeAt(p),
      devNodeAt: (p) => k.chrdevs.lookup(p),
      store: (attr, data, pos, current) => this.runStore(attr, data, pos, current),
    };
    // Modules load once the IOMMU instances exist and before PCI enumeration, so that the
    // drivers they register (vfio-pci) take the devices the topology binds to them.
    this.host = new Host(topology, this.kernel, {
      ...(opts.iommuDrivers || parts.iommuDrivers.length ? { iommuDrivers: [...(opts.iommuDrivers ?? []), ...parts.iommuDrivers] } : {}),
      beforeScan: (host) => {
        k.host = host;
        for (const mod of [...MODULES, ...(opts.modules ?? []), ...parts.modules]) this.loadModule(mod);
      },
    });
    this.sysfs = new SysfsTreeBuilder(this.host, this.params);
    this.host.onChange(() => this.render());
    this.started = true;
    this.render();
  }

  /** `do_one_initcall`: a module whose init fails is not loaded; the machine boots on without it. */
  private loadModule(mod: KernelModule): void {
    if (mod.kconfig?.some((opt) => !this.topology.kconfig[opt])) return;
    // @note emulation: on a kernel older than the module (VFIO before 3.6) it is not there;
    // a topology's vfio-pci binding still makes a plain host driver of that name.
    if (mod.since && !this.kernel.has(mod.since)) return;
    try {
      mod.init(this.k);
    } catch (e) {
      if (!isKernelError(e)) throw e;
      this.failedModules.push({ name: mod.name, error: e });
      return;
    }
    this.modules.push(mod.name);
  }

  /** The running kernel as modules see it (char devices, drivers, sysfs providers). */
  get kernelContext(): Kernel {
    return this.k;
  }

  /** The init task's process. */
  get init(): Process {
    return this.process(this.tasks.init);
  }

  /** Raw syscalls of the init task, returning `>= 0` or `-errno`. */
  get sys(): Syscalls {
    return this.init.sys;
  }

  /** The init task's address space (what `sys.mmap` hands out, what ioctls dereference). */
  get mem(): UserMemory {
    return this.tasks.init.mm as UserMemory;
  }

  get cred(): Credentials {
    return this.tasks.init.cred;
  }

  /** The init task acts as another user from now on (e.g. `user(1000)` from lib/cred). */
  setCredentials(cred: Credentials): void {
    this.tasks.init.cred = cred;
  }

  /**
   * `task()`: the init task; `task(pid)`: the task with that pid; `task({ cred, pid })`: a new
   * process (a fresh program: empty fd table, its own memory, a child of init).
   */
  task(which?: number | TaskOptions): Process {
    if (which === undefined) return this.init;
    if (typeof which === 'number') {
      const t = this.tasks.find(which);
      if (!t) throw kerr('ESRCH', `no task ${which}`);
      return this.process(t);
    }
    const t = this.tasks.spawn(this.tasks.init, new UserMemory(), {
      ...(which.pid !== undefined ? { pid: which.pid } : {}),
      ...(which.cred ? { cred: which.cred } : {}),
      ...(which.comm ? { comm: which.comm } : {}),
    });
    return this.process(t);
  }

  private process(t: Task): Process {
    let p = this.procs.get(t);
    if (!p) {
      p = new Process(t, this.syscallHost, (c) => this.process(c));
      this.procs.set(t, p);
    }
    return p;
  }

  registerSysfs(p: SysfsProvider): void {
    this.k.registerSysfs(p);
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
        // The host's objects as fragments (an unchanged object hands back its last one); the
        // providers' entries and /dev are small and rebuilt every time.
        const fragments = this.sysfs.fragments();
        const extra: SysTree = new Map();
        for (const p of this.k.sysfsProviders) p(extra);
        fragments.push({ key: 'providers', nodes: extra });
        const dev: SysTree = new Map([['/dev', { kind: 'dir' }]]);
        for (const n of this.k.chrdevs.nodes())
          dev.set(n.path, { kind: 'chardev', mode: n.mode, major: n.major, minor: n.minor, uid: n.uid, gid: n.gid });
        fragments.push({ key: 'dev', nodes: dev });
        this.renderer.apply(fragments);
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
  private runStore(attr: Attribute, data: Uint8Array, pos: number, current: Task): number {
    if (!attr.store) throw kerr('EIO');
    if (data.length === 0) return 0;
    try {
      if (!attr.binary) return attr.store(data.subarray(0, PAGE_BYTES), { cred: current.cred, pos: 0 });
      return attr.store(data, { cred: current.cred, pos });
    } finally {
      // A store may change what show() returns without a model change (a config space write).
      this.renderer.invalidateContents();
    }
  }

  /**
   * Writes through `machine.fs`: memfs checked the mode bits against the real process, so the
   * emulated caller's DAC check happens here. @note emulation: an unprivileged caller's EACCES
   * surfaces at write(2) rather than open(2) on this path; `machine.sys` fails the open.
   */
  private storeFromFs(_path: string, attr: Attribute, data: Uint8Array, pos: number): number {
    if (!permitted(this.cred, attr.mode, 0, 0, 2)) throw kerr('EACCES');
    return this.runStore(attr, data, pos, this.tasks.init);
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
export function createMachine(host: string | Topology | TopologyInput = DEFAULT_HOST, opts: MachineOptions = {}): Machine {
  let topology: Topology;
  if (typeof host === 'string') topology = resolveHost(host);
  else if (isTopology(host)) topology = host;
  else topology = topologyFromJSON(host);
  return new Machine(topology, opts);
}

function isTopology(x: unknown): x is Topology {
  return typeof x === 'object' && x !== null && 'source' in x && 'firmware' in x && Array.isArray((x as Topology).iommus);
}
