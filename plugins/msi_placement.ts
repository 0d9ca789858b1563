// SPDX-License-Identifier: GPL-2.0-only
/**
 * The LPC 2016 proposal as a behaviour variant: the ARM SMMU drivers put the software MSI window
 * at 0xfee00000 as on x86 — or, where a platform region is there, deterministically elsewhere
 * below 4 GiB — sized for the platform's doorbells, instead of the fixed 1 MiB at 0x8000000.
 * The placement is lib/vmm/msi_place.ts's, the same `iommu-emu msi-place` prints.
 */
import { RESV_TYPE, builtinIommuDriver, definePlugin, placeMsiWindow, resvRegion } from '../lib/index';
import type { IommuOps, PlatformRegion, ResvDevice } from '../lib/index';

type Ctx = Parameters<IommuOps['getResvRegions']>[1];

function variant(name: string): IommuOps {
  const stock = builtinIommuDriver(name);
  const windows = new WeakMap<object, Map<string, { start: bigint; size: bigint }>>();
  const place = (dev: ResvDevice, ctx: Ctx) => {
    const unit = dev.unit!;
    let perUnit = windows.get(ctx.topology);
    if (!perUnit) windows.set(ctx.topology, (perUnit = new Map()));
    const hit = perUnit.get(unit.name);
    if (hit) return hit;
    // The platform's regions: every region the stock driver gives any device behind this unit.
    const platform: PlatformRegion[] = [];
    const devices: ResvDevice[] = [{ bdf: `iommu:${unit.name}`, class: 0, parent: undefined, unit, spec: {} }];
    for (const d of ctx.topology.devices) devices.push({ bdf: d.bdf, class: d.class, parent: undefined, unit, spec: d });
    for (const d of devices) for (const r of stock.getResvRegions(d, ctx)) if (r.type !== RESV_TYPE.SW_MSI) platform.push({ start: r.start, last: r.last, type: String(r.type), where: r.source ?? d.bdf });
    const pageSize = unit.pgsizeBitmap & -unit.pgsizeBitmap;
    const p = placeMsiWindow({ platform, aperture: unit.aperture, doorbells: Math.max(1, ctx.firmware.its.length), pageSize });
    const w = { start: p.window?.start ?? 0x8000000n, size: p.window ? p.size : 0x100000n };
    perUnit.set(unit.name, w);
    return w;
  };
  return {
    ...stock,
    getResvRegions(dev, ctx) {
      return stock.getResvRegions(dev, ctx).map((r) => {
        if (r.type !== RESV_TYPE.SW_MSI || !dev.unit) return r;
        const w = place(dev, ctx);
        return resvRegion(w.start, w.size, r.prot, RESV_TYPE.SW_MSI, `msi_placement plugin: the LPC 2016 placement (stock: ${r.source})`);
      });
    },
  };
}

export default definePlugin({
  name: 'msi_placement',
  summary: 'ARM SMMU software MSI window at 0xfee00000 (else deterministic below 4 GiB), sized for the doorbells',
  iommuDrivers: [variant('arm-smmu-v3'), variant('arm-smmu')],
});
