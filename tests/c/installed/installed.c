/*
 * Built by scripts/test-c.sh against an installed libcaas, through pkg-config and through
 * CMake: prints the loaded library's version and C ABI version, which the script compares
 * with the package's, after checking that the header and the library agree on the ABI.
 */
#include <stdio.h>

#include "caas.h"

int main(void) {
    if (caas_abi_version() != CAAS_ABI_VERSION) {
        fprintf(stderr, "the header is of C ABI %u, the library of %u\n", (unsigned)CAAS_ABI_VERSION,
                (unsigned)caas_abi_version());
        return 1;
    }
    printf("caas %s, C ABI %u\n", caas_version(), (unsigned)caas_abi_version());
    return 0;
}
