// SPDX-License-Identifier: GPL-2.0-only
/**
 * Character devices: the nodes under /dev and the file operations their open reaches. A driver
 * registers a node (misc_register, cdev_device_add) and unregisters it when the device goes; a
 * second registration of a path or of a device number is refused with EBUSY, as misc_register
 * refuses a minor in use. The machine renders /dev from it after every change of the device model.
 * @see drivers/char/misc.c:misc_register, fs/char_dev.c:cdev_add
 */
import { kerr } from '../errno';
import type { FileOperations } from '../task/file_table';

export type { FileOperations, OpenContext } from '../task/file_table';

/** A /dev node: where it is, its mode and numbers, and the fops its open reaches. */
export interface DevNode {
  readonly path: string;
  readonly mode: number;
  readonly major: number;
  readonly minor: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly fops: FileOperations<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Passed to `fops.open` (e.g. the group a /dev/vfio/N node stands for). */
  readonly data?: unknown;
}

export const MISC_MAJOR = 10;
export const makedev = (major: number, minor: number): number => ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);

/** One machine's registered character devices. */
export class ChrdevRegistry {
  private readonly byPath = new Map<string, DevNode>();
  private readonly byDev = new Map<string, DevNode>();

  /** Registers `node`; returns its unregister. EBUSY if the path or the device number is taken. */
  register(node: DevNode): () => void {
    const dev = `${node.major}:${node.minor}`;
    if (this.byPath.has(node.path)) throw kerr('EBUSY', `${node.path} is already registered`);
    if (this.byDev.has(dev)) throw kerr('EBUSY', `device ${dev} is already registered (${this.byDev.get(dev)!.path})`);
    this.byPath.set(node.path, node);
    this.byDev.set(dev, node);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.byPath.delete(node.path);
      this.byDev.delete(dev);
    };
  }

  lookup(path: string): DevNode | undefined {
    return this.byPath.get(path);
  }

  nodes(): DevNode[] {
    return [...this.byPath.values()];
  }
}
