// SPDX-License-Identifier: GPL-2.0-only
/**
 * The FUSE filesystem in process: requests encoded exactly as the kernel sends them, replies
 * decoded as the kernel reads them. What a mount does end to end is in the run/mount tests.
 */
import test from 'ava';
import { decode, encode } from '../abi';
import { errnoNumber } from '../errno';
import { O_RDONLY, O_WRONLY } from '../uapi/fcntl';
import { createMachine } from '../machine';
import * as F from '../uapi/fuse';
import { SysfsFuse } from './sysfs_fuse';

/** A minimal FUSE client: what fs/fuse/*.c would send. */
class Client {
  private unique = 1n;
  constructor(readonly fs: SysfsFuse, public uid = 0, public gid = 0) {}

  raw(opcode: number, nodeid: number | bigint, ...args: Uint8Array[]): { error: number; body: Buffer } | undefined {
    const payload = Buffer.concat(args);
    const msg = Buffer.alloc(F.fuse_in_header.size + payload.length);
    encode(F.fuse_in_header, { len: msg.length, opcode, unique: this.unique++, nodeid: BigInt(nodeid), uid: this.uid, gid: this.gid, pid: 4242 }, msg);
    msg.set(payload, F.fuse_in_header.size);
    const r = this.fs.handle(msg);
    if (!r) return undefined;
    const h = decode(F.fuse_out_header, r);
    return { error: h.error, body: Buffer.from(r).subarray(F.fuse_out_header.size, h.len) };
  }
  req(opcode: number, nodeid: number | bigint, ...args: Uint8Array[]) {
    const r = this.raw(opcode, nodeid, ...args);
    if (!r) throw new Error('no reply');
    return r;
  }
  init() {
    return this.req(F.FUSE_INIT, 0, encode(F.fuse_init_in, { major: 7, minor: 41, max_readahead: 131072, flags: 0xffffffff }));
  }
  lookupPath(p: string): bigint {
    let id = BigInt(F.FUSE_ROOT_ID);
    for (const name of p.split('/').filter(Boolean)) {
      const r = this.req(F.FUSE_LOOKUP, id, name0(name));
      if (r.error) throw Object.assign(new Error(`lookup ${name}: ${r.error}`), { errno: r.error });
      id = decode(F.fuse_entry_out, r.body).nodeid;
    }
    return id;
  }
  attr(id: bigint) {
    const r = this.req(F.FUSE_GETATTR, id, encode(F.fuse_getattr_in, {}));
    return r.error ? r.error : decode(F.fuse_attr_out, r.body).attr;
  }
  open(id: bigint, flags: number): bigint | number {
    const r = this.req(F.FUSE_OPEN, id, encode(F.fuse_open_in, { flags }));
    return r.error ? r.error : decode(F.fuse_open_out, r.body).fh;
  }
  read(fh: bigint, offset: number, size = 4096) {
    const r = this.req(F.FUSE_READ, 0, encode(F.fuse_read_in, { fh, offset: BigInt(offset), size }));
    return r.error ? r.error : r.body.toString('latin1');
  }
  write(fh: bigint, data: string) {
    const b = Buffer.from(data);
    const r = this.req(F.FUSE_WRITE, 0, encode(F.fuse_write_in, { fh, size: b.length }), b);
    return r.error ? r.error : decode(F.fuse_write_out, r.body).size;
  }
  release(fh: bigint) {
    return this.req(F.FUSE_RELEASE, 0, encode(F.fuse_release_in, { fh })).error;
  }
  readdir(id: bigint): string[] {
    const o = this.req(F.FUSE_OPENDIR, id, encode(F.fuse_open_in, {}));
    const fh = decode(F.fuse_open_out, o.body).fh;
    const names: string[] = [];
    for (let off = 0; ; ) {
      const r = this.req(F.FUSE_READDIR, id, encode(F.fuse_read_in, { fh, offset: BigInt(off), size: 512 }));
      if (!r.body.length) break;
      for (let at = 0; at < r.body.length; ) {
        const d = decode(F.fuse_dirent, r.body, at);
        names.push(r.body.subarray(at + F.fuse_dirent.size, at + F.fuse_dirent.size + d.namelen).toString());
        off = Number(d.off);
        at += F.fuseDirentAlign(F.fuse_dirent.size + d.namelen);
      }
    }
    this.req(F.FUSE_RELEASEDIR, id, encode(F.fuse_release_in, { fh }));
    return names;
  }
}

const name0 = (s: string) => Buffer.from(`${s}\0`);
const E = (e: Parameters<typeof errnoNumber>[0]) => -errnoNumber(e);

const setup = (uid = 0) => {
  const m = createMachine('intel-vtd-server');
  const c = new Client(new SysfsFuse(m), uid, uid);
  c.init();
  return { m, c };
};

test('FUSE_INIT negotiates 7.38 at most and only the flags the server wants', (t) => {
  const c = new Client(new SysfsFuse(createMachine('amd-epyc')));
  const out = decode(F.fuse_init_out, c.init().body);
  t.is(out.major, 7);
  t.is(out.minor, 38);
  t.is(out.flags & ~(F.FUSE_ATOMIC_O_TRUNC | F.FUSE_BIG_WRITES | F.FUSE_DONT_MASK | F.FUSE_MAX_PAGES | F.FUSE_PARALLEL_DIROPS), 0);
  t.is(out.max_write, 32 * 1024);
  const old = new Client(new SysfsFuse(createMachine('amd-epyc')));
  const r = old.req(F.FUSE_INIT, 0, encode(F.fuse_init_in, { major: 7, minor: 22 }));
  t.is(r.body.length, 24, 'a 7.22 kernel gets the 24-byte reply');
});

test('lookup and getattr: text attributes are 4096 bytes, links lrwxrwxrwx, directories 0755, /sys 0555', (t) => {
  const { c } = setup();
  const rr = c.attr(c.lookupPath('sys/kernel/iommu_groups/2/reserved_regions'));
  t.not(typeof rr, 'number');
  if (typeof rr === 'number') return;
  t.is(rr.mode, 0o100444);
  t.is(rr.size, 4096n);
  t.is(rr.uid, 0);
  const link = c.attr(c.lookupPath('sys/bus/pci/devices/0000:01:00.0'));
  t.is(typeof link !== 'number' && link.mode, 0o120777);
  const dir = c.attr(c.lookupPath('sys/kernel/iommu_groups'));
  t.is(typeof dir !== 'number' && dir.mode, 0o040755);
  const sys = c.attr(c.lookupPath('sys'));
  t.is(typeof sys !== 'number' && sys.mode, 0o040555);
  t.is(c.req(F.FUSE_LOOKUP, c.lookupPath('sys/kernel'), name0('nope')).error, E('ENOENT'));
});

test('read renders at open and continues the same buffer (seq_file); a read at 0 renders again', (t) => {
  const { m, c } = setup();
  const id = c.lookupPath('sys/bus/pci/devices/0000:01:00.0/driver_override');
  const fh = c.open(id, O_RDONLY) as bigint;
  t.is(c.read(fh, 0), '(null)\n');
  m.fs.writeFileSync('/sys/bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci');
  t.is(c.read(fh, 3), 'll)\n', 'the rest of the first rendering');
  t.is(c.read(fh, 0), 'vfio-pci\n', 'offset 0 shows again');
  t.is(c.release(fh), 0);
});

test('writes run store(): unbind, driver_override, bind move the device and the tree follows', (t) => {
  const { c } = setup();
  const w = (p: string, s: string) => {
    const fh = c.open(c.lookupPath(p), O_WRONLY);
    if (typeof fh === 'number') return fh;
    const n = c.write(fh, s);
    c.release(fh);
    return n;
  };
  t.is(w('sys/bus/pci/drivers/i40e/unbind', '0000:01:00.0\n'), 13);
  t.throws(() => c.lookupPath('sys/bus/pci/devices/0000:01:00.0/driver'), { message: /lookup driver/ });
  t.is(w('sys/bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci\n'), 9);
  t.is(w('sys/bus/pci/drivers/vfio-pci/bind', '0000:01:00.0\n'), 13);
  const target = c.req(F.FUSE_READLINK, c.lookupPath('sys/bus/pci/devices/0000:01:00.0/driver'));
  t.is(target.body.toString(), '../../../../bus/pci/drivers/vfio-pci');
  const group = c.req(F.FUSE_READLINK, c.lookupPath('sys/bus/pci/devices/0000:01:00.0/iommu_group')).body.toString().split('/').pop()!;
  t.true(c.readdir(c.lookupPath('dev/vfio')).includes(group), `/dev/vfio/${group} appears`);
});

test('a refused store gives the kernel errno; a read-only attribute refuses the open for write, even to root', (t) => {
  const { c } = setup();
  const fh = c.open(c.lookupPath('sys/bus/pci/drivers/i40e/bind'), O_WRONLY) as bigint;
  t.is(c.write(fh, 'junk'), E('ENODEV'));
  t.is(c.open(c.lookupPath('sys/kernel/iommu_groups/2/reserved_regions'), O_WRONLY), E('EACCES'));
  t.is(c.open(c.lookupPath('sys/bus/pci/drivers/i40e/bind'), O_RDONLY), E('EACCES'), 'write-only attributes cannot be read');
  const type = c.open(c.lookupPath('sys/kernel/iommu_groups/2/type'), O_WRONLY) as bigint;
  t.is(c.write(type, 'bogus\n'), E('EINVAL'));
});

/** [opcode, args after the parent nodeid, root's errno, uid 1000's errno] */
const NAME_OPS: [string, number, (dir: string) => Uint8Array[], string, string][] = [
  ['CREATE a new file', F.FUSE_CREATE, () => [encode(F.fuse_create_in, { flags: O_WRONLY, mode: 0o644 }), name0('new')], 'EACCES', 'EACCES'],
  ['MKNOD', F.FUSE_MKNOD, () => [encode(F.fuse_mknod_in, { mode: 0o100644 }), name0('new')], 'EPERM', 'EACCES'],
  ['MKDIR', F.FUSE_MKDIR, () => [encode(F.fuse_mkdir_in, { mode: 0o755 }), name0('new')], 'EPERM', 'EACCES'],
  ['SYMLINK', F.FUSE_SYMLINK, () => [name0('new'), name0('../x')], 'EPERM', 'EACCES'],
  ['UNLINK an attribute', F.FUSE_UNLINK, () => [name0('reserved_regions')], 'EPERM', 'EACCES'],
  ['UNLINK a directory', F.FUSE_UNLINK, () => [name0('devices')], 'EISDIR', 'EACCES'],
  ['UNLINK a missing name', F.FUSE_UNLINK, () => [name0('nope')], 'ENOENT', 'ENOENT'],
  ['RMDIR a directory', F.FUSE_RMDIR, () => [name0('devices')], 'EPERM', 'EACCES'],
  ['RMDIR an attribute', F.FUSE_RMDIR, () => [name0('type')], 'ENOTDIR', 'EACCES'],
  ['RENAME', F.FUSE_RENAME, () => [encode(F.fuse_rename_in, { newdir: 1n }), name0('type'), name0('t2')], 'EPERM', 'EACCES'],
  ['RENAME2 with RENAME_NOREPLACE', F.FUSE_RENAME2, () => [encode(F.fuse_rename2_in, { newdir: 1n, flags: 1 }), name0('type'), name0('t2')], 'EINVAL', 'EACCES'],
  ['TMPFILE', F.FUSE_TMPFILE, () => [encode(F.fuse_create_in, { flags: O_WRONLY, mode: 0o600 })], 'EOPNOTSUPP', 'EOPNOTSUPP'],
];

for (const [name, opcode, args, asRoot, asUser] of NAME_OPS) {
  for (const [who, uid, want] of [
    ['root', 0, asRoot],
    ['uid 1000', 1000, asUser],
  ] as const) {
    test(`${name} in an iommu group directory as ${who} → ${want}`, (t) => {
      const { m, c } = setup(uid);
      const dir = c.lookupPath('sys/kernel/iommu_groups/2');
      const before = (m.fs.readdirSync('/sys/kernel/iommu_groups/2') as string[]).join(',');
      t.is(c.req(opcode, dir, ...args('/sys/kernel/iommu_groups/2')).error, E(want as never));
      t.is((m.fs.readdirSync('/sys/kernel/iommu_groups/2') as string[]).join(','), before, 'nothing changed');
    });
  }
}

test('SETATTR: chmod by root is kept, by uid 1000 EPERM; truncate is ignored (root), EACCES without write permission', (t) => {
  const { m, c } = setup();
  const id = c.lookupPath('sys/kernel/iommu_groups/2/reserved_regions');
  const r = c.req(F.FUSE_SETATTR, id, encode(F.fuse_setattr_in, { valid: F.FATTR_MODE, mode: 0o100400 }));
  t.is(r.error, 0);
  t.is(decode(F.fuse_attr_out, r.body).attr.mode, 0o100400);
  t.is(Number(m.fs.statSync('/sys/kernel/iommu_groups/2/reserved_regions').mode) & 0o777, 0o400);
  const tr = c.req(F.FUSE_SETATTR, id, encode(F.fuse_setattr_in, { valid: F.FATTR_SIZE, size: 0n }));
  t.is(tr.error, 0);
  t.is(decode(F.fuse_attr_out, tr.body).attr.size, 4096n, 'the size stays one page');
  c.uid = c.gid = 1000;
  t.is(c.req(F.FUSE_SETATTR, id, encode(F.fuse_setattr_in, { valid: F.FATTR_MODE, mode: 0o100644 })).error, E('EPERM'));
  t.is(c.req(F.FUSE_SETATTR, id, encode(F.fuse_setattr_in, { valid: F.FATTR_UID, uid: 1000 })).error, E('EPERM'));
  t.is(c.req(F.FUSE_SETATTR, id, encode(F.fuse_setattr_in, { valid: F.FATTR_SIZE })).error, E('EACCES'));
  t.regex(String(m.fs.readFileSync('/sys/kernel/iommu_groups/2/reserved_regions', 'utf8')), /msi/, 'content untouched');
});

test('the owner of the server is root of the machine; other callers are unprivileged', (t) => {
  const m = createMachine('intel-vtd-server');
  const c = new Client(new SysfsFuse(m, '/', { ownerUid: 4321, ownerGid: 4321 }), 4321, 4321);
  c.init();
  const attr = c.attr(c.lookupPath('sys/kernel/iommu_groups/2/type'));
  t.is(typeof attr !== 'number' && attr.uid, 4321, "root's inodes are reported as the owner's");
  const fh = c.open(c.lookupPath('sys/bus/pci/drivers/i40e/unbind'), O_WRONLY) as bigint;
  t.is(c.write(fh, '0000:01:00.0'), 12);
  c.uid = c.gid = 1000;
  t.is(c.open(c.lookupPath('sys/bus/pci/drivers/i40e/bind'), O_WRONLY), E('EACCES'));
});

test('readdir lists . and .. then every entry; FORGET drops ids; unknown opcodes are ENOSYS', (t) => {
  const { m, c } = setup();
  const names = c.readdir(c.lookupPath('sys/kernel/iommu_groups'));
  t.deepEqual(names.slice(0, 2), ['.', '..']);
  t.deepEqual(names.slice(2), (m.fs.readdirSync('/sys/kernel/iommu_groups') as string[]).sort());
  const id = c.lookupPath('sys/kernel');
  // looked up twice (here and on the way to iommu_groups): forgotten after two
  t.is(c.raw(F.FUSE_FORGET, id, encode(F.fuse_forget_in, { nlookup: 1n })), undefined, 'FORGET has no reply');
  t.is(c.req(F.FUSE_GETATTR, id, encode(F.fuse_getattr_in, {})).error, 0);
  c.raw(F.FUSE_FORGET, id, encode(F.fuse_forget_in, { nlookup: 1n }));
  t.is(c.req(F.FUSE_GETATTR, id, encode(F.fuse_getattr_in, {})).error, E('ESTALE'));
  t.is(c.req(F.FUSE_GETXATTR, id, encode(F.fuse_getxattr_in, { size: 0 }), name0('security.selinux')).error, E('ENOSYS'));
  t.is(c.req(F.FUSE_STATFS, 1).error, 0);
});
