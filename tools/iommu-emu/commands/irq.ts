// SPDX-License-Identifier: GPL-2.0-only
import { VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, isKernelError, raiseIrqRemote, strerror } from '../../../lib/index';
import { Command, str } from '../command';
import { ExitError, UsageError } from '../errors';

const INDEX: Record<string, number> = { msix: VFIO_PCI_MSIX_IRQ_INDEX, msi: VFIO_PCI_MSI_IRQ_INDEX, intx: VFIO_PCI_INTX_IRQ_INDEX };

/**
 * Play the device under `run`: raise an interrupt of an assigned device, so that the eventfd the
 * program wired to it (VFIO_DEVICE_SET_IRQS) is signalled. Inside `run` the run directory comes
 * from IOMMU_EMU_RUN_DIR; from outside, --run DIR names it.
 */
export const irqCommand: Command = {
  summary: 'raise MSI-X vector N (or MSI, INTx) of an assigned device of a running `iommu-emu run`: the program\'s eventfd is signalled',
  operands: 'DEVICE [VECTOR]',
  details: 'DEVICE is a PCI address (0000:02:00.0) the program opened through VFIO; VECTOR defaults to 0.\nExit 1 when that interrupt is not enabled or has no eventfd (the errno is printed).',
  options: {
    run: { type: 'string', value: 'DIR', description: 'the run directory of the `iommu-emu run` to signal (default: $IOMMU_EMU_RUN_DIR, set inside run)' },
    index: { type: 'string', value: 'msix|msi|intx', description: 'the IRQ index (VFIO_PCI_*_IRQ_INDEX; default msix)' },
  },
  allowPositionals: true,
  async run(args, io) {
    const [bdf, vec = '0', ...rest] = args.positionals;
    if (!bdf || rest.length) throw new UsageError('irq needs DEVICE (a PCI address such as 0000:02:00.0) and at most a VECTOR');
    if (!/^\d{1,5}$/.test(vec)) throw new UsageError(`irq: VECTOR must be a number, got ${JSON.stringify(vec)}`);
    const name = str(args, 'index') ?? 'msix';
    const index = INDEX[name];
    if (index === undefined) throw new UsageError(`irq: --index must be msix, msi or intx, got ${JSON.stringify(name)}`);
    const dir = str(args, 'run') ?? io.env.IOMMU_EMU_RUN_DIR;
    if (!dir) throw new UsageError('irq: no run directory: use it inside `iommu-emu run` (IOMMU_EMU_RUN_DIR) or pass --run DIR');
    try {
      await raiseIrqRemote(dir, bdf, index, Number(vec));
    } catch (e) {
      if (isKernelError(e)) throw new ExitError(1, `irq: ${bdf} ${name} vector ${vec}: ${strerror(e.code)}${e.code === 'ENODEV' ? ' (not an open VFIO device)' : e.code === 'EINVAL' ? ' (not enabled, or no eventfd on it)' : ''}`);
      throw new ExitError(2, `irq: ${(e as Error).message}`);
    }
  },
};
