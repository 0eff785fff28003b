/*
 * libunicorn's register and run calls, callable from Python at the cost of a
 * builtin function call.
 *
 * Through ctypes a register read costs ~1.3 us (argument conversion, a
 * ctypes object per value) and a four-register batch ~4 us; a debugger's
 * single step reads registers five or six times. Here a read is one
 * vectorcall. The functions are libunicorn's own, handed over once by
 * `bind` from the library the binding loaded, so there is never a second
 * copy of libunicorn in the process.
 *
 * Engines are passed as their `uc_engine *` (an int). Register values are
 * 64-bit: narrower registers come back zero-extended, since the buffer is
 * cleared before each read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "uccalls.h"

#define BATCH_MAX 64

typedef int (*uc_reg_read_fn)(void *uc, int regid, void *value);
typedef int (*uc_reg_write_fn)(void *uc, int regid, const void *value);
typedef int (*uc_reg_read_batch_fn)(void *uc, int *regs, void **values, int count);
typedef int (*uc_emu_start_fn)(void *uc, uint64_t begin, uint64_t until, uint64_t timeout,
                               size_t count);

static struct {
    uc_reg_read_fn reg_read;
    uc_reg_write_fn reg_write;
    uc_reg_read_batch_fn reg_read_batch;
    uc_emu_start_fn emu_start;
    PyObject *error; /* unicorn.UcError, raised with the uc_err code */
} lib;

static int fail(int err)
{
    PyObject *value = PyLong_FromLong(err);
    if (value != NULL) {
        PyErr_SetObject(lib.error, value);
        Py_DECREF(value);
    }
    return -1;
}

/*
 * What every call but bind() starts with: its argument count, bind() done, and
 * the engine in args[0] (an address, never null). 0, or -1 with an exception set.
 */
static int begin(const char *usage, Py_ssize_t nargs, Py_ssize_t want, PyObject *const *args,
                 void **uc)
{
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "usage: %s", usage);
        return -1;
    }
    if (lib.error == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "xgdbvm.machine._tick: bind() was not called");
        return -1;
    }
    *uc = PyLong_AsVoidPtr(args[0]);
    if (*uc == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "a null uc_engine");
        return -1;
    }
    return 0;
}

/* begin(), then the register id in args[1]. */
static int begin_reg(const char *usage, Py_ssize_t nargs, Py_ssize_t want, PyObject *const *args,
                     void **uc, int *regid)
{
    if (begin(usage, nargs, want, args, uc) < 0)
        return -1;
    *regid = (int)PyLong_AsLong(args[1]);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *uccalls_bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "bind(reg_read, reg_write, reg_read_batch, emu_start, error)");
        return NULL;
    }
    void *fns[4];
    for (int i = 0; i < 4; i++) {
        fns[i] = PyLong_AsVoidPtr(args[i]);
        if (fns[i] == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "bind: a null function pointer");
            return NULL;
        }
    }
    lib.reg_read = (uc_reg_read_fn)fns[0];
    lib.reg_write = (uc_reg_write_fn)fns[1];
    lib.reg_read_batch = (uc_reg_read_batch_fn)fns[2];
    lib.emu_start = (uc_emu_start_fn)fns[3];
    Py_INCREF(args[4]);
    Py_XSETREF(lib.error, args[4]);
    Py_RETURN_NONE;
}

/* reg_read(uc, regid) -> int */
static PyObject *uccalls_reg_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    void *uc;
    int regid;
    if (begin_reg("reg_read(uc, regid)", nargs, 2, args, &uc, &regid) < 0)
        return NULL;
    uint64_t value = 0;
    int err = lib.reg_read(uc, regid, &value);
    if (err != 0)
        return fail(err), NULL;
    return PyLong_FromUnsignedLongLong(value);
}

/* reg_write(uc, regid, value): value is taken modulo 2**64 */
static PyObject *uccalls_reg_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    void *uc;
    int regid;
    if (begin_reg("reg_write(uc, regid, value)", nargs, 3, args, &uc, &regid) < 0)
        return NULL;
    uint64_t value = PyLong_AsUnsignedLongLongMask(args[2]);
    if (PyErr_Occurred())
        return NULL;
    int err = lib.reg_write(uc, regid, &value);
    if (err != 0)
        return fail(err), NULL;
    Py_RETURN_NONE;
}

/* reg_read_batch(uc, regids: tuple[int, ...]) -> tuple[int, ...] */
static PyObject *uccalls_reg_read_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    void *uc;
    if (begin("reg_read_batch(uc, regids: tuple)", nargs, 2, args, &uc) < 0)
        return NULL;
    if (!PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "reg_read_batch: regids must be a tuple");
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(args[1]);
    if (count > BATCH_MAX) {
        PyErr_Format(PyExc_ValueError, "reg_read_batch: at most %d registers", BATCH_MAX);
        return NULL;
    }
    int ids[BATCH_MAX];
    uint64_t values[BATCH_MAX] = {0};
    void *pointers[BATCH_MAX];
    for (Py_ssize_t i = 0; i < count; i++) {
        ids[i] = (int)PyLong_AsLong(PyTuple_GET_ITEM(args[1], i));
        pointers[i] = &values[i];
    }
    if (PyErr_Occurred())
        return NULL;
    int err = lib.reg_read_batch(uc, ids, pointers, (int)count);
    if (err != 0)
        return fail(err), NULL;
    PyObject *result = PyTuple_New(count);
    if (result == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value = PyLong_FromUnsignedLongLong(values[i]);
        if (value == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, i, value);
    }
    return result;
}

/*
 * A coprocessor (system) register: libunicorn's uc_arm64_cp_reg and uc_arm_cp_reg
 * are both 32-bit selector fields (5 and 7 of them) and then the 64-bit value at
 * the next 8-byte boundary.
 */
#define CP_FIELDS_MAX 7

struct cp_reg {
    uint32_t fields[CP_FIELDS_MAX + 1]; /* room for the padding of 7 fields */
    uint64_t value;
};

/* begin_reg(), then the selector fields in args[2] into `reg`; `value` points at
 * where its value goes. */
static int begin_cp(const char *usage, Py_ssize_t nargs, Py_ssize_t want, PyObject *const *args,
                    void **uc, int *regid, struct cp_reg *reg, uint64_t **value)
{
    if (begin_reg(usage, nargs, want, args, uc, regid) < 0)
        return -1;
    PyObject *fields = args[2];
    if (!PyTuple_Check(fields) || PyTuple_GET_SIZE(fields) > CP_FIELDS_MAX) {
        PyErr_SetString(PyExc_TypeError, "cp fields: a tuple of at most 7 ints");
        return -1;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(fields);
    memset(reg, 0, sizeof(*reg));
    for (Py_ssize_t i = 0; i < count; i++)
        reg->fields[i] = (uint32_t)PyLong_AsUnsignedLongMask(PyTuple_GET_ITEM(fields, i));
    if (PyErr_Occurred())
        return -1;
    *value = (uint64_t *)((char *)reg + ((4 * count + 7) & ~7));
    return 0;
}

/* cp_reg_read(uc, regid, fields) -> int */
static PyObject *uccalls_cp_reg_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    void *uc;
    int regid;
    struct cp_reg reg;
    uint64_t *value;
    if (begin_cp("cp_reg_read(uc, regid, fields)", nargs, 3, args, &uc, &regid, &reg, &value) < 0)
        return NULL;
    int err = lib.reg_read(uc, regid, &reg);
    if (err != 0)
        return fail(err), NULL;
    return PyLong_FromUnsignedLongLong(*value);
}

/* cp_reg_write(uc, regid, fields, value): value is taken modulo 2**64 */
static PyObject *uccalls_cp_reg_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    void *uc;
    int regid;
    struct cp_reg reg;
    uint64_t *value;
    if (begin_cp("cp_reg_write(uc, regid, fields, value)", nargs, 4, args, &uc, &regid, &reg,
                 &value) < 0)
        return NULL;
    *value = PyLong_AsUnsignedLongLongMask(args[3]);
    if (PyErr_Occurred())
        return NULL;
    int err = lib.reg_write(uc, regid, &reg);
    if (err != 0)
        return fail(err), NULL;
    Py_RETURN_NONE;
}

/*
 * emu_start(uc, begin, until, timeout_us, count) -> int (uc_err)
 *
 * Without the GIL, as ctypes calls it: another thread may stop the run, and
 * the Python hooks Unicorn calls back take the GIL themselves.
 */
static PyObject *uccalls_emu_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    void *uc;
    if (begin("emu_start(uc, begin, until, timeout, count)", nargs, 5, args, &uc) < 0)
        return NULL;
    uint64_t start = PyLong_AsUnsignedLongLongMask(args[1]);
    uint64_t until = PyLong_AsUnsignedLongLongMask(args[2]);
    uint64_t timeout = PyLong_AsUnsignedLongLongMask(args[3]);
    size_t count = PyLong_AsSize_t(args[4]);
    if (PyErr_Occurred())
        return NULL;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = lib.emu_start(uc, start, until, timeout, count);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(err);
}

PyMethodDef xgdbvm_uccalls_methods[] = {
    {"bind", (PyCFunction)(void (*)(void))uccalls_bind, METH_FASTCALL,
     "bind(reg_read, reg_write, reg_read_batch, emu_start, error): libunicorn's functions."},
    {"reg_read", (PyCFunction)(void (*)(void))uccalls_reg_read, METH_FASTCALL,
     "reg_read(uc, regid) -> int"},
    {"reg_write", (PyCFunction)(void (*)(void))uccalls_reg_write, METH_FASTCALL,
     "reg_write(uc, regid, value)"},
    {"reg_read_batch", (PyCFunction)(void (*)(void))uccalls_reg_read_batch, METH_FASTCALL,
     "reg_read_batch(uc, regids) -> tuple of int"},
    {"cp_reg_read", (PyCFunction)(void (*)(void))uccalls_cp_reg_read, METH_FASTCALL,
     "cp_reg_read(uc, regid, fields) -> int: a system register by its selector fields"},
    {"cp_reg_write", (PyCFunction)(void (*)(void))uccalls_cp_reg_write, METH_FASTCALL,
     "cp_reg_write(uc, regid, fields, value)"},
    {"emu_start", (PyCFunction)(void (*)(void))uccalls_emu_start, METH_FASTCALL,
     "emu_start(uc, begin, until, timeout, count) -> uc_err"},
    {NULL, NULL, 0, NULL},
};
