// SPDX-License-Identifier: GPL-2.0-only
/** The group `type` attribute. @see drivers/iommu/iommu.c:iommu_group_show_type, iommu_group_store_type */
import { kerr } from '../errno';
import { Credentials, capable } from '../cred';
import type { KernelProfile } from '../kernel/profile';
import type { DomainType, IommuGroup } from '../model/host';
import { bufToString, sysfsStreq } from '../kernel/string';

export function groupTypeShow(group: IommuGroup, kernel: KernelProfile): string {
  if (group.defaultDomain === 'DMA' && !kernel.has('group_type_dma_newline')) return 'DMA';
  return `${group.defaultDomain ?? 'unknown'}\n`;
}

/** What the store needs of the machine: its kernel profile and the change notification. */
export interface GroupTypeHost {
  readonly kernel: KernelProfile;
  changed(): void;
}

export function groupTypeStore(host: GroupTypeHost, group: IommuGroup, buf: Uint8Array, cred: Credentials): number {
  if (!capable(cred, 'CAP_SYS_ADMIN') || !capable(cred, 'CAP_SYS_RAWIO')) throw kerr('EACCES');
  const k = host.kernel;
  // Newest: checked before the string. v5.11–v6.3 found it only in iommu_change_dev_def_domain
  // (prev_dom == NULL), after the device-count and bound-driver checks below.
  if (k.has('type_store_owner_cnt') && !group.defaultDomain) throw kerr('EINVAL', 'no default domain');
  const s = bufToString(buf);
  let req: DomainType | 'auto';
  if (sysfsStreq(s, 'identity')) req = 'identity';
  else if (sysfsStreq(s, 'DMA')) req = 'DMA';
  else if (k.has('dma_fq') && sysfsStreq(s, 'DMA-FQ')) req = 'DMA-FQ';
  else if (sysfsStreq(s, 'auto')) req = 'auto';
  else throw kerr('EINVAL');

  const fqInPlace = req === 'DMA-FQ' && group.defaultDomain === 'DMA';
  if (k.has('type_store_owner_cnt')) {
    // A flush queue comes up in place, even with drivers bound.
    if (fqInPlace) return setType(host, group, 'DMA-FQ', buf);
    if (group.devices.length + group.platformDevices.length === 0 || group.ownerCnt) throw kerr('EPERM');
  } else {
    // v5.11–v6.3: single-device groups only, checked first; then the device must be unbound,
    // except for the in-place DMA → DMA-FQ change (v5.15+).
    const members = [...group.devices, ...group.platformDevices];
    if (members.length !== 1) throw kerr('EINVAL', 'group has more than one device');
    if (members[0]!.driver !== null && !fqInPlace) throw kerr('EBUSY', 'device is still bound to a driver');
    if (!group.defaultDomain) throw kerr('EINVAL', 'no default domain');
    if (fqInPlace) return setType(host, group, 'DMA-FQ', buf);
  }
  const want = req === 'auto' ? group.bootDomain : req;
  if (want === 'identity' && group.devices.some((d) => d.unit?.driver === 'apple-dart' && (d.unit.spec.pageSize ?? 16384) > 4096))
    throw kerr('EOPNOTSUPP', 'identity domain not supported by this IOMMU');
  return setType(host, group, want, buf);
}

function setType(host: GroupTypeHost, group: IommuGroup, type: DomainType | null, buf: Uint8Array): number {
  group.defaultDomain = type;
  host.changed();
  return buf.length;
}
