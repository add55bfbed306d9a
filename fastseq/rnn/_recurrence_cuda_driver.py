"""Driver-level pieces of the persistent recurrence launch that Numba's launch syntax does not
offer: the shared-memory opt-in, the co-resident grid limit and the cooperative launch.

- :func:`set_max_dynamic_smem` raises a kernel's dynamic shared-memory limit with the driver call
  that matches its handle: ``cuKernelSetAttribute`` for a ``CUkernel`` (what numba-cuda >= 0.23
  hands out, from the library API) and ``cuFuncSetAttribute`` for a ``CUfunction`` (older
  numba-cuda, module API). Any other handle is an error, never a silent no-op.
- :func:`co_resident_blocks` asks the occupancy API how many blocks of the kernel, at a block size
  and dynamic shared memory, can be resident on the whole device at once: the most a grid barrier
  may wait for.
- :func:`launch_cooperative` launches a compiled kernel as a cooperative grid, so the driver
  refuses a grid that cannot be co-resident (``CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE``) instead
  of the barrier spinning forever.

The CUDA binding and driver wrapper are arguments (defaulting to numba-cuda's), so the choice of
call is tested on the CPU with stand-ins.
"""

from __future__ import annotations


def _numba_driver(binding, driver):
    if binding is None or driver is None:
        from numba.cuda.cudadrv.driver import binding as b, driver as d
        binding = b if binding is None else binding
        driver = d if driver is None else driver
    return binding, driver


def set_max_dynamic_smem(handle, nbytes, device_id, binding=None, driver=None):
    """Allow ``nbytes`` of dynamic shared memory per block for the kernel ``handle``; returns the
    name of the driver call used. ``driver`` raises on a CUDA error (numba-cuda's wrapper)."""
    binding, driver = _numba_driver(binding, driver)
    attr = binding.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    if isinstance(handle, binding.CUkernel):
        driver.cuKernelSetAttribute(attr, int(nbytes), handle, int(device_id))
        return "cuKernelSetAttribute"
    if isinstance(handle, binding.CUfunction):
        driver.cuFuncSetAttribute(handle, attr, int(nbytes))
        return "cuFuncSetAttribute"
    raise TypeError(f"kernel handle: expected a CUkernel or a CUfunction, got "
                    f"{type(handle).__name__}")


def as_cufunction(handle, binding=None, driver=None):
    """The ``CUfunction`` of a kernel handle in the current context (the occupancy API takes
    only functions): a ``CUkernel`` is resolved with ``cuKernelGetFunction``."""
    binding, driver = _numba_driver(binding, driver)
    if isinstance(handle, binding.CUkernel):
        return driver.cuKernelGetFunction(handle)
    if isinstance(handle, binding.CUfunction):
        return handle
    raise TypeError(f"kernel handle: expected a CUkernel or a CUfunction, got "
                    f"{type(handle).__name__}")


def co_resident_blocks(handle, threads, smem_bytes, n_sm, binding=None, driver=None):
    """How many blocks of ``threads`` threads and ``smem_bytes`` of dynamic shared memory can be
    resident at once on the device's ``n_sm`` SMs (0: not even one fits)."""
    binding, driver = _numba_driver(binding, driver)
    func = as_cufunction(handle, binding, driver)
    per_sm = driver.cuOccupancyMaxActiveBlocksPerMultiprocessor(func, int(threads),
                                                                int(smem_bytes))
    return int(per_sm) * int(n_sm)


def cooperative_kernel(dispatcher, signature):
    """The compiled kernel of ``dispatcher`` for ``signature``, marked for cooperative launch
    (numba-cuda marks only kernels that call ``cuda.cg.this_grid().sync()``; the hand-written
    barrier needs the same guarantee of co-residency)."""
    kernel = dispatcher.compile(signature)
    kernel.cooperative = True
    return kernel


def launch_cooperative(kernel, blocks, threads, stream, smem_bytes, args):
    """Launch a :func:`cooperative_kernel` as a 1-D cooperative grid on ``stream``."""
    kernel.launch(list(args), (int(blocks), 1, 1), (int(threads), 1, 1), stream, int(smem_bytes))
