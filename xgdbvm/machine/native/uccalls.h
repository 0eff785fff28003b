/* The module functions of uccalls.c, for the module definition in tick.c. */
#ifndef XGDBVM_UCCALLS_H
#define XGDBVM_UCCALLS_H

#include <Python.h>

extern PyMethodDef xgdbvm_uccalls_methods[];

#endif
