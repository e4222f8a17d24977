#ifndef C_HIREDIS_SHIM_H
#define C_HIREDIS_SHIM_H
/* Only the RESP codec is used: the reply reader and the command formatter. */
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#endif
