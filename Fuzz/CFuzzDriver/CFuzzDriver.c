#include "CFuzzDriver.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int cfuzz_main(int argc, char **argv, cfuzz_callback callback) {
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
}
