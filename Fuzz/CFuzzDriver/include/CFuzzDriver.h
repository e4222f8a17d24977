#ifndef C_FUZZ_DRIVER_H
#define C_FUZZ_DRIVER_H
/*
 * libFuzzer's driver, called from a target's own entry point: SwiftPM links executables with
 * `main` aliased to `<Target>_main`, so the target defines that and hands over to libFuzzer
 * (whose own `main` is then never linked in).
 */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
