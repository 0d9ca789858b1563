// SPDX-License-Identifier: GPL-2.0-only
/**
 * The control front door of a run server, for tools outside the program (`iommu-emu irq`): one
 * connection to its control socket, HELLO as IOMMU_EMU_ROLE_CONTROL, one request.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { errnoName, kerr } from '../errno';
import {
  FrameReader,
  IOMMU_EMU_OP_HELLO,
  IOMMU_EMU_OP_IRQ,
  IOMMU_EMU_ROLE_CONTROL,
  encodeRequest,
  iommu_emu_rsp,
} from './channel';
import { CONTROL_SOCKET } from './server';

/**
 * Ask the run server in `runDir` to raise interrupt `vector` of IRQ index `index` of the open
 * VFIO device `bdf` (the program's eventfd for it is signalled). Throws a KernelError with the
 * server's errno (ENODEV: no such open device; EINVAL: not enabled, or no eventfd), or an Error
 * when there is no server there.
 */
export function raiseIrqRemote(runDir: string, bdf: string, index: number, vector: number, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path.join(runDir, CONTROL_SOCKET));
    const reader = new FrameReader(iommu_emu_rsp, 'out_len');
    const timer = setTimeout(() => finish(new Error(`no answer from the run server in ${runDir}`)), timeoutMs);
    let replies = 0;
    const finish = (e?: Error) => {
      clearTimeout(timer);
      c.destroy();
      if (e) reject(e);
      else resolve();
    };
    c.on('error', (e: NodeJS.ErrnoException) => finish(new Error(`no run server in ${runDir}: ${e.code ?? e.message}`)));
    c.on('data', (b: Buffer) => {
      for (const f of reader.push(b)) {
        replies++;
        const rc = Number(f.header.result);
        if (rc < 0) return finish(kerr(errnoName(-rc) ?? 'EIO', f.header.opcode === IOMMU_EMU_OP_HELLO ? 'the server refused the control front end' : `${bdf} interrupt ${vector}`));
        if (replies === 2) return finish();
      }
    });
    c.write(encodeRequest({ opcode: IOMMU_EMU_OP_HELLO, id: 1n, arg: BigInt(IOMMU_EMU_ROLE_CONTROL) }));
    c.write(encodeRequest({ opcode: IOMMU_EMU_OP_IRQ, id: 2n, cmd: index, arg: BigInt(vector) }, Buffer.from(bdf)));
  });
}
