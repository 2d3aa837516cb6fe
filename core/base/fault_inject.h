/*
 * Fault injection, for tests only: compiled in with -DNP_FAULT_INJECTION
 * (//core:npool_faults_<strategy>, which only fault_injection_test links), never
 * in the libraries that are installed or benchmarked.
 *
 *   np_fault_arm(NP_FAULT_MAP, n)   the nth np_os_map from now fails (NULL, errno ENOMEM)
 *   np_fault_arm(NP_FAULT_META, n)  the nth np_meta_alloc from now fails (NULL)
 *   np_fault_arm(NP_FAULT_PURGE, n) the nth madvise of a purge from now fails
 *   np_fault_arm(kind, 0)           no failure
 *   np_fault_fired()                whether the armed failure happened
 *   np_fault_mapped_bytes()         bytes npool has mapped and not unmapped
 */
#ifndef NP_FAULT_INJECT_H
#define NP_FAULT_INJECT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum np_fault_kind { NP_FAULT_MAP, NP_FAULT_META, NP_FAULT_PURGE, NP_FAULT_KINDS } np_fault_kind;

__attribute__((visibility("default"))) void np_fault_arm(np_fault_kind kind, long n);
__attribute__((visibility("default"))) int np_fault_fired(void);
__attribute__((visibility("default"))) int64_t np_fault_mapped_bytes(void);
/* Called by os_mem.c and meta.c: 1 when this call must fail. */
int np_fault_hit(np_fault_kind kind);
void np_fault_account(int64_t bytes);

#ifdef __cplusplus
}
#endif
#endif /* NP_FAULT_INJECT_H */
