// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prints sizeof, offsetof and offsetofend of the iommufd uapi structs lib/uapi/iommufd.ts
 * declares, and the ioctl numbers, as gcc lays them out against a given <linux/iommufd.h>.
 * Debian 12's linux-libc-dev (6.1) has no iommufd.h (iommufd is 6.2+), so the header comes from
 * the kernel source of the version pinned; the numbers are pasted as literal expectations into
 * lib/uapi/iommufd.test.ts (the tests do not run this).
 *
 * 6.12 (Debian's linux-source-6.12 = 6.12.117-1~deb12u1, the tree's own include/uapi):
 *   apt-get download linux-source-6.12 && dpkg-deb --fsys-tarfile linux-source-6.12_*.deb |
 *     tar -xO ./usr/src/linux-source-6.12.tar.xz |
 *     tar -xJ linux-source-6.12/include/uapi/linux/iommufd.h
 *   mkdir -p hdr/linux && cp linux-source-6.12/include/uapi/linux/iommufd.h hdr/linux/
 *   gcc -Wall -D__user= -isystem hdr -o /tmp/iommufd_layout lib/uapi/c/iommufd_layout.c
 *
 * -DSELFTEST adds the selftest uapi (drivers/iommu/iommufd/iommufd_test.h of the same tree; it
 * includes <linux/iommufd.h>, so copy it next to the header as hdr/iommufd_test.h):
 *   tar -xJ linux-source-6.12/drivers/iommu/iommufd/iommufd_test.h && cp … hdr/
 *   gcc -Wall -D__user= -DSELFTEST -isystem hdr -o /tmp/iommufd_layout lib/uapi/c/iommufd_layout.c
 *
 * -DSHAPE_6_7 adds the two structs whose 6.7 shape differs from 6.12, transcribed from the
 * upstream header of that release (iommu_hwpt_alloc without fault_id, iommu_hw_info with a
 * __u32 __reserved), under their own names.
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include <linux/iommufd.h>
#ifdef SELFTEST
#include <iommufd_test.h>
#endif

#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))
#define S(T) printf("%s sizeof %zu align %zu\n", #T, sizeof(T), _Alignof(T))
#define F(T, m) printf("  %s.%s %zu %zu\n", #T, #m, offsetof(T, m), offsetofend(T, m))
#define IOC(name) printf("%s 0x%lx\n", #name, (unsigned long)(name))

#ifdef SHAPE_6_7
struct iommu_hwpt_alloc_6_7 {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type;
	__u32 data_len;
	__aligned_u64 data_uptr;
};
struct iommu_hw_info_6_7 {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 out_data_type;
	__u32 __reserved;
	__aligned_u64 out_capabilities;
};
#endif

int main(void)
{
	S(struct iommu_destroy); F(struct iommu_destroy, size); F(struct iommu_destroy, id);
	S(struct iommu_ioas_alloc); F(struct iommu_ioas_alloc, flags); F(struct iommu_ioas_alloc, out_ioas_id);
	S(struct iommu_iova_range); F(struct iommu_iova_range, start); F(struct iommu_iova_range, last);
	S(struct iommu_ioas_iova_ranges);
	F(struct iommu_ioas_iova_ranges, ioas_id); F(struct iommu_ioas_iova_ranges, num_iovas);
	F(struct iommu_ioas_iova_ranges, __reserved); F(struct iommu_ioas_iova_ranges, allowed_iovas);
	F(struct iommu_ioas_iova_ranges, out_iova_alignment);
	S(struct iommu_ioas_allow_iovas);
	F(struct iommu_ioas_allow_iovas, num_iovas); F(struct iommu_ioas_allow_iovas, allowed_iovas);
	S(struct iommu_ioas_map);
	F(struct iommu_ioas_map, flags); F(struct iommu_ioas_map, ioas_id); F(struct iommu_ioas_map, __reserved);
	F(struct iommu_ioas_map, user_va); F(struct iommu_ioas_map, length); F(struct iommu_ioas_map, iova);
	S(struct iommu_ioas_copy);
	F(struct iommu_ioas_copy, dst_ioas_id); F(struct iommu_ioas_copy, src_ioas_id); F(struct iommu_ioas_copy, length);
	F(struct iommu_ioas_copy, dst_iova); F(struct iommu_ioas_copy, src_iova);
	S(struct iommu_ioas_unmap);
	F(struct iommu_ioas_unmap, ioas_id); F(struct iommu_ioas_unmap, iova); F(struct iommu_ioas_unmap, length);
	S(struct iommu_option);
	F(struct iommu_option, option_id); F(struct iommu_option, op); F(struct iommu_option, __reserved);
	F(struct iommu_option, object_id); F(struct iommu_option, val64);
	S(struct iommu_vfio_ioas);
	F(struct iommu_vfio_ioas, ioas_id); F(struct iommu_vfio_ioas, op); F(struct iommu_vfio_ioas, __reserved);
	S(struct iommu_hwpt_alloc);
	F(struct iommu_hwpt_alloc, flags); F(struct iommu_hwpt_alloc, dev_id); F(struct iommu_hwpt_alloc, pt_id);
	F(struct iommu_hwpt_alloc, out_hwpt_id); F(struct iommu_hwpt_alloc, __reserved);
	F(struct iommu_hwpt_alloc, data_type); F(struct iommu_hwpt_alloc, data_len);
	F(struct iommu_hwpt_alloc, data_uptr); F(struct iommu_hwpt_alloc, fault_id);
	F(struct iommu_hwpt_alloc, __reserved2);
	S(struct iommu_hwpt_vtd_s1);
	F(struct iommu_hwpt_vtd_s1, flags); F(struct iommu_hwpt_vtd_s1, pgtbl_addr);
	F(struct iommu_hwpt_vtd_s1, addr_width); F(struct iommu_hwpt_vtd_s1, __reserved);
	S(struct iommu_hw_info_vtd);
	F(struct iommu_hw_info_vtd, flags); F(struct iommu_hw_info_vtd, __reserved);
	F(struct iommu_hw_info_vtd, cap_reg); F(struct iommu_hw_info_vtd, ecap_reg);
	S(struct iommu_hw_info);
	F(struct iommu_hw_info, flags); F(struct iommu_hw_info, dev_id); F(struct iommu_hw_info, data_len);
	F(struct iommu_hw_info, data_uptr); F(struct iommu_hw_info, out_data_type);
	F(struct iommu_hw_info, out_max_pasid_log2); F(struct iommu_hw_info, __reserved);
	F(struct iommu_hw_info, out_capabilities);
	S(struct iommu_hwpt_set_dirty_tracking);
	F(struct iommu_hwpt_set_dirty_tracking, flags); F(struct iommu_hwpt_set_dirty_tracking, hwpt_id);
	F(struct iommu_hwpt_set_dirty_tracking, __reserved);
	S(struct iommu_hwpt_get_dirty_bitmap);
	F(struct iommu_hwpt_get_dirty_bitmap, hwpt_id); F(struct iommu_hwpt_get_dirty_bitmap, flags);
	F(struct iommu_hwpt_get_dirty_bitmap, __reserved); F(struct iommu_hwpt_get_dirty_bitmap, iova);
	F(struct iommu_hwpt_get_dirty_bitmap, length); F(struct iommu_hwpt_get_dirty_bitmap, page_size);
	F(struct iommu_hwpt_get_dirty_bitmap, data);
	S(struct iommu_hwpt_vtd_s1_invalidate);
	F(struct iommu_hwpt_vtd_s1_invalidate, addr); F(struct iommu_hwpt_vtd_s1_invalidate, npages);
	F(struct iommu_hwpt_vtd_s1_invalidate, flags); F(struct iommu_hwpt_vtd_s1_invalidate, __reserved);
	S(struct iommu_hwpt_invalidate);
	F(struct iommu_hwpt_invalidate, hwpt_id); F(struct iommu_hwpt_invalidate, data_uptr);
	F(struct iommu_hwpt_invalidate, data_type); F(struct iommu_hwpt_invalidate, entry_len);
	F(struct iommu_hwpt_invalidate, entry_num); F(struct iommu_hwpt_invalidate, __reserved);
	S(struct iommu_hwpt_pgfault);
	F(struct iommu_hwpt_pgfault, flags); F(struct iommu_hwpt_pgfault, dev_id); F(struct iommu_hwpt_pgfault, pasid);
	F(struct iommu_hwpt_pgfault, grpid); F(struct iommu_hwpt_pgfault, perm); F(struct iommu_hwpt_pgfault, __reserved);
	F(struct iommu_hwpt_pgfault, addr); F(struct iommu_hwpt_pgfault, length); F(struct iommu_hwpt_pgfault, cookie);
	S(struct iommu_hwpt_page_response);
	F(struct iommu_hwpt_page_response, cookie); F(struct iommu_hwpt_page_response, code);
	S(struct iommu_fault_alloc);
	F(struct iommu_fault_alloc, flags); F(struct iommu_fault_alloc, out_fault_id);
	F(struct iommu_fault_alloc, out_fault_fd);
#ifdef SELFTEST
	S(struct iommu_test_cmd); F(struct iommu_test_cmd, op); F(struct iommu_test_cmd, id);
	F(struct iommu_test_cmd, __reserved); F(struct iommu_test_cmd, add_reserved); F(struct iommu_test_cmd, last);
	F(struct iommu_test_cmd, add_reserved.length); F(struct iommu_test_cmd, mock_domain_flags.dev_flags);
	F(struct iommu_test_cmd, check_refs.refs); F(struct iommu_test_cmd, access_pages.uptr);
	F(struct iommu_test_cmd, access_rw.flags); F(struct iommu_test_cmd, dirty.iova); F(struct iommu_test_cmd, dirty.out_nr_dirty);
	F(struct iommu_test_cmd, check_iotlb.iotlb); F(struct iommu_test_cmd, trigger_iopf.addr);
	S(struct iommu_test_hw_info); F(struct iommu_test_hw_info, test_reg);
	S(struct iommu_hwpt_selftest); S(struct iommu_hwpt_invalidate_selftest); F(struct iommu_hwpt_invalidate_selftest, iotlb_id);
	IOC(IOMMU_TEST_CMD);
#endif
#ifdef SHAPE_6_7
	S(struct iommu_hwpt_alloc_6_7); F(struct iommu_hwpt_alloc_6_7, data_uptr);
	S(struct iommu_hw_info_6_7); F(struct iommu_hw_info_6_7, __reserved); F(struct iommu_hw_info_6_7, out_capabilities);
#endif

	IOC(IOMMU_DESTROY); IOC(IOMMU_IOAS_ALLOC); IOC(IOMMU_IOAS_ALLOW_IOVAS); IOC(IOMMU_IOAS_COPY);
	IOC(IOMMU_IOAS_IOVA_RANGES); IOC(IOMMU_IOAS_MAP); IOC(IOMMU_IOAS_UNMAP); IOC(IOMMU_OPTION);
	IOC(IOMMU_VFIO_IOAS); IOC(IOMMU_HWPT_ALLOC); IOC(IOMMU_GET_HW_INFO); IOC(IOMMU_HWPT_SET_DIRTY_TRACKING);
	IOC(IOMMU_HWPT_GET_DIRTY_BITMAP); IOC(IOMMU_HWPT_INVALIDATE); IOC(IOMMU_FAULT_QUEUE_ALLOC);
	return 0;
}
