// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/pci/vfio_pci_intrs.c: VFIO_DEVICE_SET_IRQS after validation — the per-index,
 * per-action handlers and the interrupt mode of the device (none / INTx / MSI / MSI-X) with
 * the eventfds wired to each vector. Studied against v6.6–v6.19.
 */
import { kerr } from '../errno';
import {
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
} from '../uapi';
import { EventfdCtx, eventfdCtxFdget, eventfdSignal } from '../fs/eventfd';
import type { FilesStruct } from '../task/fdtable';
import type { Kernel } from '../host';
import { type VfioDevice, vfioState } from './vfio_main';
import { pciCore } from './vfio_pci_core';

/** `vdev->irq_type`: an IRQ index, or none. */
export type IrqType = 'none' | typeof VFIO_PCI_INTX_IRQ_INDEX | typeof VFIO_PCI_MSI_IRQ_INDEX | typeof VFIO_PCI_MSIX_IRQ_INDEX;

/** The interrupt state of an open vfio-pci device. */
export class VfioPciIrqState {
  irqType: IrqType = 'none';
  intxMasked = false;
  intxTrigger: EventfdCtx | null = null;
  /** The unmask eventfd (virqfd) of INTx. */
  intxUnmask: EventfdCtx | null = null;
  /** MSI/MSI-X vectors allocated, each with its trigger (null: allocated, no eventfd). */
  readonly vectors = new Map<number, EventfdCtx | null>();
  errTrigger: EventfdCtx | null = null;
  reqTrigger: EventfdCtx | null = null;
}

interface SetIrqsArgs {
  readonly flags: number;
  readonly index: number;
  readonly start: number;
  readonly count: number;
  readonly data: Uint8Array;
  /** The caller's fd table, where its eventfds are. */
  readonly files: FilesStruct;
}

const fdAt = (data: Uint8Array, i: number): number => new DataView(data.buffer, data.byteOffset).getInt32(i * 4, true);

function irqs(vdev: VfioDevice): VfioPciIrqState {
  return pciCore(vdev).irqs;
}

/** @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_intx_disable */
function vfioIntxDisable(s: VfioPciIrqState): void {
  s.irqType = 'none';
  s.intxTrigger = null;
  s.intxUnmask = null;
  s.intxMasked = false;
}

/**
 * A mask eventfd was never implemented: DATA_EVENTFD is ENOTTY once INTx is on.
 * @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_intx_mask
 */
function vfioPciSetIntxMask(vdev: VfioDevice, a: SetIrqsArgs): void {
  const s = irqs(vdev);
  if (s.irqType !== VFIO_PCI_INTX_IRQ_INDEX || a.start !== 0 || a.count !== 1) throw kerr('EINVAL');
  if (a.flags & VFIO_IRQ_SET_DATA_NONE) s.intxMasked = true;
  else if (a.flags & VFIO_IRQ_SET_DATA_BOOL) {
    if (a.data[0]) s.intxMasked = true;
  } else if (a.flags & VFIO_IRQ_SET_DATA_EVENTFD) throw kerr('ENOTTY');
}

/** @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_intx_unmask */
function vfioPciSetIntxUnmask(vdev: VfioDevice, a: SetIrqsArgs): void {
  const s = irqs(vdev);
  if (s.irqType !== VFIO_PCI_INTX_IRQ_INDEX || a.start !== 0 || a.count !== 1) throw kerr('EINVAL');
  if (a.flags & VFIO_IRQ_SET_DATA_NONE) s.intxMasked = false;
  else if (a.flags & VFIO_IRQ_SET_DATA_BOOL) {
    if (a.data[0]) s.intxMasked = false;
  } else if (a.flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    const fd = fdAt(a.data, 0);
    s.intxUnmask = fd >= 0 ? eventfdCtxFdget(a.files, fd) : null;
  }
}

/** @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_intx_trigger, vfio_intx_enable, vfio_intx_set_signal */
function vfioPciSetIntxTrigger(vdev: VfioDevice, a: SetIrqsArgs): void {
  const s = irqs(vdev);
  const isIntx = s.irqType === VFIO_PCI_INTX_IRQ_INDEX;
  if (isIntx && !a.count && a.flags & VFIO_IRQ_SET_DATA_NONE) {
    vfioIntxDisable(s);
    return;
  }
  if (!(isIntx || s.irqType === 'none') || a.start !== 0 || a.count !== 1) throw kerr('EINVAL');
  if (a.flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    const fd = fdAt(a.data, 0);
    const ctx = fd >= 0 ? eventfdCtxFdget(a.files, fd) : null;
    if (!isIntx) {
      if (!vdev.pdev.spec.irq) throw kerr('ENODEV');
      s.irqType = VFIO_PCI_INTX_IRQ_INDEX;
      s.intxMasked = false;
    }
    s.intxTrigger = ctx;
    return;
  }
  if (!isIntx) throw kerr('EINVAL');
  if (a.flags & VFIO_IRQ_SET_DATA_NONE || (a.flags & VFIO_IRQ_SET_DATA_BOOL && a.data[0])) {
    if (s.intxTrigger) eventfdSignal(s.intxTrigger);
  }
}

/** @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_msi_disable */
function vfioMsiDisable(s: VfioPciIrqState): void {
  s.vectors.clear();
  s.irqType = 'none';
}

/**
 * @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_msi_trigger, vfio_msi_enable, vfio_msi_set_block
 */
function vfioPciSetMsiTrigger(vdev: VfioDevice, a: SetIrqsArgs): void {
  const s = irqs(vdev);
  const msix = a.index === VFIO_PCI_MSIX_IRQ_INDEX;
  const isThis = s.irqType === a.index;
  if (isThis && !a.count && a.flags & VFIO_IRQ_SET_DATA_NONE) {
    vfioMsiDisable(s);
    return;
  }
  if (!(isThis || s.irqType === 'none')) throw kerr('EINVAL');
  if (a.flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    const enabling = !isThis;
    if (enabling) {
      s.irqType = a.index as IrqType;
      for (let v = 0; v < a.start + a.count; v++) s.vectors.set(v, null);
    }
    try {
      vfioMsiSetBlock(vdev, s, a, msix);
    } catch (e) {
      if (enabling) vfioMsiDisable(s);
      throw e;
    }
    return;
  }
  if (!isThis) throw kerr('EINVAL');
  for (let i = a.start; i < a.start + a.count; i++) {
    const ctx = s.vectors.get(i);
    if (!ctx) continue;
    if (a.flags & VFIO_IRQ_SET_DATA_NONE || (a.flags & VFIO_IRQ_SET_DATA_BOOL && a.data[i - a.start])) eventfdSignal(ctx);
  }
}

/**
 * Wire each vector of the block; on failure the vectors set by this call are released again.
 * Without dynamic MSI-X, a vector beyond those allocated at enable is EINVAL.
 */
function vfioMsiSetBlock(vdev: VfioDevice, s: VfioPciIrqState, a: SetIrqsArgs, msix: boolean): void {
  const dyn = msix && vdev.st.kernel.has('vfio_pci_dyn_msix');
  const done: number[] = [];
  try {
    for (let j = 0; j < a.count; j++) {
      const vector = a.start + j;
      const fd = fdAt(a.data, j);
      if (fd < 0) {
        if (s.vectors.has(vector)) s.vectors.set(vector, null);
        done.push(vector);
        continue;
      }
      if (!s.vectors.has(vector) && !dyn) throw kerr('EINVAL');
      s.vectors.set(vector, eventfdCtxFdget(a.files, fd));
      done.push(vector);
    }
  } catch (e) {
    for (const v of done) if (s.vectors.has(v)) s.vectors.set(v, null);
    throw e;
  }
}

/** @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_ctx_trigger_single */
function vfioPciSetCtxTriggerSingle(vdev: VfioDevice, get: () => EventfdCtx | null, set: (c: EventfdCtx | null) => void, a: SetIrqsArgs): void {
  if (a.start !== 0 || a.count > 1) throw kerr('EINVAL');
  const cur = get();
  if (a.flags & VFIO_IRQ_SET_DATA_NONE) {
    if (cur) {
      if (a.count) eventfdSignal(cur);
      else set(null);
      return;
    }
  } else if (a.flags & VFIO_IRQ_SET_DATA_BOOL) {
    if (!a.count) throw kerr('EINVAL');
    if (a.data[0] && cur) eventfdSignal(cur);
    return;
  } else if (a.flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    if (!a.count) throw kerr('EINVAL');
    const fd = fdAt(a.data, 0);
    if (fd === -1) set(null);
    else if (fd >= 0) set(eventfdCtxFdget(a.files, fd));
    return;
  }
  throw kerr('EINVAL');
}

/** @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_irqs_ioctl */
export function vfioPciSetIrqsIoctl(vdev: VfioDevice, a: SetIrqsArgs): void {
  const action = a.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
  let func: ((vdev: VfioDevice, a: SetIrqsArgs) => void) | undefined;
  switch (a.index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_MASK) func = vfioPciSetIntxMask;
      else if (action === VFIO_IRQ_SET_ACTION_UNMASK) func = vfioPciSetIntxUnmask;
      else if (action === VFIO_IRQ_SET_ACTION_TRIGGER) func = vfioPciSetIntxTrigger;
      break;
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER) func = vfioPciSetMsiTrigger;
      break;
    case VFIO_PCI_ERR_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER && vdev.pdev.spec.pcie)
        func = (d, x) => vfioPciSetCtxTriggerSingle(d, () => irqs(d).errTrigger, (c) => (irqs(d).errTrigger = c), x);
      break;
    case VFIO_PCI_REQ_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER)
        func = (d, x) => vfioPciSetCtxTriggerSingle(d, () => irqs(d).reqTrigger, (c) => (irqs(d).reqTrigger = c), x);
      break;
  }
  if (!func) throw kerr('ENOTTY');
  func(vdev, a);
}

/** Tear everything down (close_device). */
export function vfioPciIrqsDisableAll(s: VfioPciIrqState): void {
  vfioIntxDisable(s);
  vfioMsiDisable(s);
  s.errTrigger = null;
  s.reqTrigger = null;
}

/**
 * The device raised interrupt `vector` of IRQ index `index` (a test or tool playing the
 * hardware): what the kernel's interrupt handlers do with it. MSI and MSI-X signal the vector's
 * trigger eventfd; INTx signals its trigger and masks the line until userspace unmasks it (a
 * masked line keeps the interrupt pending, nothing is signalled). EINVAL when the device is not
 * in that interrupt mode, the vector is not enabled or has no eventfd (the kernel requests no
 * IRQ for such a vector: the interrupt is lost).
 * @see drivers/vfio/pci/vfio_pci_intrs.c:vfio_msihandler, vfio_intx_handler, vfio_send_intx_eventfd
 */
export function vfioPciRaiseIrq(vdev: VfioDevice, index: number, vector: number): void {
  if (!vdev.core || vdev.gone) throw kerr('ENODEV', `${vdev.name} is not open`);
  const s = irqs(vdev);
  if (index === VFIO_PCI_INTX_IRQ_INDEX) {
    if (s.irqType !== VFIO_PCI_INTX_IRQ_INDEX || vector !== 0) throw kerr('EINVAL', `${vdev.name}: INTx is not enabled`);
    if (s.intxMasked) return;
    s.intxMasked = true;
    if (s.intxTrigger) eventfdSignal(s.intxTrigger);
    return;
  }
  if (index !== VFIO_PCI_MSI_IRQ_INDEX && index !== VFIO_PCI_MSIX_IRQ_INDEX) throw kerr('EINVAL', `IRQ index ${index} is not raised by the device`);
  if (s.irqType !== index) throw kerr('EINVAL', `${vdev.name}: ${index === VFIO_PCI_MSIX_IRQ_INDEX ? 'MSI-X' : 'MSI'} is not enabled`);
  const ctx = s.vectors.get(vector);
  if (!ctx) throw kerr('EINVAL', `${vdev.name}: vector ${vector} ${s.vectors.has(vector) ? 'has no eventfd' : 'is not enabled'}`);
  eventfdSignal(ctx);
}

/** `vfioPciRaiseIrq` on the VFIO device named `bdf` of kernel `k`: ENODEV when there is none. */
export function vfioRaiseIrq(k: Kernel, bdf: string, index: number, vector: number): void {
  for (const vdev of vfioState(k).devices.values()) if (vdev.name === bdf) return vfioPciRaiseIrq(vdev, index, vector);
  throw kerr('ENODEV', `no VFIO device ${bdf}`);
}
