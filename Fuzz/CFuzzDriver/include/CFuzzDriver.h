#ifndef C_FUZZ_DRIVER_H
#define C_FUZZ_DRIVER_H
/*
 * libFuzzer's driver, called from a target's own entry point: SwiftPM links executables with
 * `main` aliased to `<Target>_main`, so each target defines that and hands over here (and
 * libFuzzer's own `main` is never linked in).
 */
#include <stddef.h>
#include <stdint.h>

typedef int (*cfuzz_callback)(const uint8_t *data, size_t size);

/* Runs libFuzzer (command-line options, corpus directories) on `callback`. */
int cfuzz_main(int argc, char **argv, cfuzz_callback callback);

#endif
