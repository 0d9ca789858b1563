// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prints sizeof, offsetof and offsetofend of the uapi structs lib/uapi declares, as gcc lays
 * them out on this host, plus the ioctl numbers and a few made-up structs that exercise
 * lib/abi/layout.ts on the tricky cases of C alignment. The numbers are pasted as literal
 * expectations into the lib/uapi tests and lib/abi/layout.test.ts; the tests do not run this.
 *
 *   gcc -Wall -o /tmp/uapi_layout lib/uapi/c/uapi_layout.c && /tmp/uapi_layout
 *
 * Measured on x86_64 Debian 12 (gcc 12.2, /usr/include/linux/vfio.h from Linux 6.1), which has
 * no iommufd.h and predates the pad fields and the iommufd cdev structs: those come from the
 * reference tables instead (see the tests).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include <linux/vfio.h>

#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))
#define S(T) printf("%s sizeof %zu align %zu\n", #T, sizeof(T), _Alignof(T))
#define F(T, m) printf("  %s.%s %zu %zu\n", #T, #m, offsetof(T, m), offsetofend(T, m))
/* flexible array members: offsetofend is meaningless, print the offset only */
#define FX(T, m) printf("  %s.%s %zu flex\n", #T, #m, offsetof(T, m))
#define IOC(name) printf("%s 0x%lx\n", #name, (unsigned long)(name))

/* Layout-engine torture cases (not kernel structs). */
struct t_u8_u64 { __u8 a; __u64 b; };                       /* 7 bytes of hole */
struct t_tail { __u64 a; __u8 b; };                         /* 7 bytes of tail padding */
struct t_inner { __u8 c; __u32 d; };
struct t_nested { __u8 a; struct t_inner in; __u16 e; };    /* nested struct aligns to 4 */
struct t_nested64 { __u16 a; struct t_u8_u64 in; __u8 z; }; /* nested struct aligns to 8 */
struct t_flex_u64 { __u32 a; __u64 f[]; };                  /* flex pushed to 8, sizeof 8 */
struct t_flex_mid { __u64 a; __u32 b; __u8 f[]; };          /* flex at 12 < sizeof 16 */
struct t_flex_s32 { __u16 a; __s32 f[]; };
struct t_arrays { __u8 a[3]; __u16 b[3]; __u64 c; __u8 d[5]; };
struct t_union { __u32 a; union { __u8 b; __u64 c; }; __u16 d; };
struct t_mixed { __s8 a; __s16 b; __s32 c; __s64 d; __u16 e; };
struct t_packed { __u8 a; __u16 b; __u64 c; __u32 d; } __attribute__((packed)); /* ACPI tables */

int main(void)
{
	S(struct t_u8_u64); F(struct t_u8_u64, a); F(struct t_u8_u64, b);
	S(struct t_tail); F(struct t_tail, a); F(struct t_tail, b);
	S(struct t_inner); F(struct t_inner, c); F(struct t_inner, d);
	S(struct t_nested); F(struct t_nested, a); F(struct t_nested, in); F(struct t_nested, e);
	S(struct t_nested64); F(struct t_nested64, a); F(struct t_nested64, in); F(struct t_nested64, z);
	S(struct t_flex_u64); F(struct t_flex_u64, a); FX(struct t_flex_u64, f);
	S(struct t_flex_mid); F(struct t_flex_mid, a); F(struct t_flex_mid, b); FX(struct t_flex_mid, f);
	S(struct t_flex_s32); F(struct t_flex_s32, a); FX(struct t_flex_s32, f);
	S(struct t_arrays); F(struct t_arrays, a); F(struct t_arrays, b); F(struct t_arrays, c); F(struct t_arrays, d);
	S(struct t_union); F(struct t_union, a); F(struct t_union, b); F(struct t_union, c); F(struct t_union, d);
	S(struct t_mixed); F(struct t_mixed, a); F(struct t_mixed, b); F(struct t_mixed, c); F(struct t_mixed, d); F(struct t_mixed, e);
	S(struct t_packed); F(struct t_packed, a); F(struct t_packed, b); F(struct t_packed, c); F(struct t_packed, d);

	S(struct vfio_info_cap_header);
	F(struct vfio_info_cap_header, id); F(struct vfio_info_cap_header, version); F(struct vfio_info_cap_header, next);
	S(struct vfio_group_status);
	F(struct vfio_group_status, argsz); F(struct vfio_group_status, flags);
	S(struct vfio_device_info);
	F(struct vfio_device_info, argsz); F(struct vfio_device_info, flags); F(struct vfio_device_info, num_regions);
	F(struct vfio_device_info, num_irqs); F(struct vfio_device_info, cap_offset);
	S(struct vfio_region_info);
	F(struct vfio_region_info, argsz); F(struct vfio_region_info, flags); F(struct vfio_region_info, index);
	F(struct vfio_region_info, cap_offset); F(struct vfio_region_info, size); F(struct vfio_region_info, offset);
	S(struct vfio_region_sparse_mmap_area);
	F(struct vfio_region_sparse_mmap_area, offset); F(struct vfio_region_sparse_mmap_area, size);
	S(struct vfio_region_info_cap_sparse_mmap);
	F(struct vfio_region_info_cap_sparse_mmap, header); F(struct vfio_region_info_cap_sparse_mmap, nr_areas);
	F(struct vfio_region_info_cap_sparse_mmap, reserved); FX(struct vfio_region_info_cap_sparse_mmap, areas);
	S(struct vfio_region_info_cap_type);
	F(struct vfio_region_info_cap_type, header); F(struct vfio_region_info_cap_type, type);
	F(struct vfio_region_info_cap_type, subtype);
	S(struct vfio_irq_info);
	F(struct vfio_irq_info, argsz); F(struct vfio_irq_info, flags); F(struct vfio_irq_info, index);
	F(struct vfio_irq_info, count);
	S(struct vfio_irq_set);
	F(struct vfio_irq_set, argsz); F(struct vfio_irq_set, flags); F(struct vfio_irq_set, index);
	F(struct vfio_irq_set, start); F(struct vfio_irq_set, count); FX(struct vfio_irq_set, data);
	S(struct vfio_pci_dependent_device);
	F(struct vfio_pci_dependent_device, group_id); F(struct vfio_pci_dependent_device, segment);
	F(struct vfio_pci_dependent_device, bus); F(struct vfio_pci_dependent_device, devfn);
	S(struct vfio_pci_hot_reset_info);
	F(struct vfio_pci_hot_reset_info, argsz); F(struct vfio_pci_hot_reset_info, flags);
	F(struct vfio_pci_hot_reset_info, count); FX(struct vfio_pci_hot_reset_info, devices);
	S(struct vfio_pci_hot_reset);
	F(struct vfio_pci_hot_reset, argsz); F(struct vfio_pci_hot_reset, flags); F(struct vfio_pci_hot_reset, count);
	FX(struct vfio_pci_hot_reset, group_fds);
	S(struct vfio_device_feature);
	F(struct vfio_device_feature, argsz); F(struct vfio_device_feature, flags); FX(struct vfio_device_feature, data);
	S(struct vfio_iommu_type1_info);
	F(struct vfio_iommu_type1_info, argsz); F(struct vfio_iommu_type1_info, flags);
	F(struct vfio_iommu_type1_info, iova_pgsizes); F(struct vfio_iommu_type1_info, cap_offset);
	S(struct vfio_iova_range);
	F(struct vfio_iova_range, start); F(struct vfio_iova_range, end);
	S(struct vfio_iommu_type1_info_cap_iova_range);
	F(struct vfio_iommu_type1_info_cap_iova_range, header); F(struct vfio_iommu_type1_info_cap_iova_range, nr_iovas);
	F(struct vfio_iommu_type1_info_cap_iova_range, reserved);
	FX(struct vfio_iommu_type1_info_cap_iova_range, iova_ranges);
	S(struct vfio_iommu_type1_info_cap_migration);
	F(struct vfio_iommu_type1_info_cap_migration, header); F(struct vfio_iommu_type1_info_cap_migration, flags);
	F(struct vfio_iommu_type1_info_cap_migration, pgsize_bitmap);
	F(struct vfio_iommu_type1_info_cap_migration, max_dirty_bitmap_size);
	S(struct vfio_iommu_type1_info_dma_avail);
	F(struct vfio_iommu_type1_info_dma_avail, header); F(struct vfio_iommu_type1_info_dma_avail, avail);
	S(struct vfio_iommu_type1_dma_map);
	F(struct vfio_iommu_type1_dma_map, argsz); F(struct vfio_iommu_type1_dma_map, flags);
	F(struct vfio_iommu_type1_dma_map, vaddr); F(struct vfio_iommu_type1_dma_map, iova);
	F(struct vfio_iommu_type1_dma_map, size);
	S(struct vfio_bitmap);
	F(struct vfio_bitmap, pgsize); F(struct vfio_bitmap, size); F(struct vfio_bitmap, data);
	S(struct vfio_iommu_type1_dma_unmap);
	F(struct vfio_iommu_type1_dma_unmap, argsz); F(struct vfio_iommu_type1_dma_unmap, flags);
	F(struct vfio_iommu_type1_dma_unmap, iova); F(struct vfio_iommu_type1_dma_unmap, size);
	FX(struct vfio_iommu_type1_dma_unmap, data);
	S(struct vfio_iommu_type1_dirty_bitmap);
	F(struct vfio_iommu_type1_dirty_bitmap, argsz); F(struct vfio_iommu_type1_dirty_bitmap, flags);
	FX(struct vfio_iommu_type1_dirty_bitmap, data);
	S(struct vfio_iommu_type1_dirty_bitmap_get);
	F(struct vfio_iommu_type1_dirty_bitmap_get, iova); F(struct vfio_iommu_type1_dirty_bitmap_get, size);
	F(struct vfio_iommu_type1_dirty_bitmap_get, bitmap);

	IOC(VFIO_GET_API_VERSION); IOC(VFIO_CHECK_EXTENSION); IOC(VFIO_SET_IOMMU);
	IOC(VFIO_GROUP_GET_STATUS); IOC(VFIO_GROUP_SET_CONTAINER); IOC(VFIO_GROUP_UNSET_CONTAINER);
	IOC(VFIO_GROUP_GET_DEVICE_FD); IOC(VFIO_DEVICE_GET_INFO); IOC(VFIO_DEVICE_GET_REGION_INFO);
	IOC(VFIO_DEVICE_GET_IRQ_INFO); IOC(VFIO_DEVICE_SET_IRQS); IOC(VFIO_DEVICE_RESET);
	IOC(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO); IOC(VFIO_DEVICE_PCI_HOT_RESET);
	IOC(VFIO_DEVICE_QUERY_GFX_PLANE); IOC(VFIO_DEVICE_GET_GFX_DMABUF); IOC(VFIO_DEVICE_IOEVENTFD);
	IOC(VFIO_DEVICE_FEATURE); IOC(VFIO_IOMMU_GET_INFO); IOC(VFIO_IOMMU_MAP_DMA); IOC(VFIO_IOMMU_UNMAP_DMA);
	IOC(VFIO_IOMMU_ENABLE); IOC(VFIO_IOMMU_DISABLE); IOC(VFIO_IOMMU_DIRTY_PAGES);
	IOC(VFIO_IOMMU_SPAPR_TCE_GET_INFO); IOC(VFIO_EEH_PE_OP); IOC(VFIO_IOMMU_SPAPR_REGISTER_MEMORY);
	IOC(VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY); IOC(VFIO_IOMMU_SPAPR_TCE_CREATE); IOC(VFIO_IOMMU_SPAPR_TCE_REMOVE);

	/* asm-generic/ioctl.h encodings with a size, for lib/uapi/ioctl.test.ts */
	IOC(_IOR(';', 0x70, struct vfio_iommu_type1_info));
	IOC(_IOW(';', 0x71, struct vfio_iommu_type1_dma_map));
	IOC(_IOWR(';', 0x72, struct vfio_iommu_type1_dma_unmap));
	IOC(_IOW('T', 0x01, __s32));
	return 0;
}
