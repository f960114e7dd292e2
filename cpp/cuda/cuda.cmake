# The CUDA backend, deltaprop._cuda: its own module, so the CPU module never depends on CUDA.
# DELTAPROP_CUDA=AUTO builds it when nvcc and cuBLASLt are both found, ON requires them, OFF
# skips it. cuBLASLt comes from the CUDA toolkit or from the nvidia-cublas wheel (found through
# the Python that builds); cudart is linked statically, so an installed module needs only the
# driver and libcublasLt, which it finds through its RUNPATH (the wheel's folder beside
# deltaprop/) or the preload in deltaprop/cuda.py.
string(TOUPPER "${DELTAPROP_CUDA}" DELTAPROP_CUDA)
set(DELTAPROP_CUDA_BUILT OFF)
if(NOT DELTAPROP_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c "import nvidia.cu13 as m; print(list(m.__path__)[0])"
    OUTPUT_VARIABLE CUBLAS_WHEEL_DIR OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  set(CUBLAS_HINTS "${CUBLAS_WHEEL_DIR}" "$ENV{CUBLAS_ROOT}" "$ENV{CUDA_HOME}" "$ENV{CUDA_PATH}" /usr/local/cuda)
  if(CMAKE_CUDA_COMPILER)
    get_filename_component(NVCC_ROOT "${CMAKE_CUDA_COMPILER}" DIRECTORY)
    list(APPEND CUBLAS_HINTS "${NVCC_ROOT}/..")
  endif()
  find_path(CUBLASLT_INCLUDE_DIR cublasLt.h HINTS ${CUBLAS_HINTS} PATH_SUFFIXES include targets/x86_64-linux/include
            NO_CACHE)
  find_library(CUBLASLT_LIBRARY NAMES cublasLt libcublasLt.so.13 libcublasLt.so.12
               HINTS ${CUBLAS_HINTS} PATH_SUFFIXES lib lib64 targets/x86_64-linux/lib NO_CACHE)
  set(CUDA_MISSING "")
  if(NOT CMAKE_CUDA_COMPILER)
    string(APPEND CUDA_MISSING " nvcc (the CUDA compiler)")
  endif()
  if(NOT CUBLASLT_INCLUDE_DIR OR NOT CUBLASLT_LIBRARY)
    string(APPEND CUDA_MISSING " cuBLASLt (pip install nvidia-cublas, or a CUDA toolkit with cuBLAS)")
  endif()
  if(CUDA_MISSING STREQUAL "")
    set(DELTAPROP_CUDA_BUILT ON)
  elseif(DELTAPROP_CUDA STREQUAL "ON")
    message(FATAL_ERROR "DELTAPROP_CUDA=ON but not found:${CUDA_MISSING}")
  else()
    message(STATUS "deltaprop: CUDA backend not built (not found:${CUDA_MISSING})")
  endif()
endif()

if(DELTAPROP_CUDA_BUILT)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    if(DEFINED ENV{DELTAPROP_CUDA_ARCHS})
      set(CMAKE_CUDA_ARCHITECTURES "$ENV{DELTAPROP_CUDA_ARCHS}")
    else()
      set(CMAKE_CUDA_ARCHITECTURES "80-real;90")  # A100 and H100 code, PTX for newer GPUs
    endif()
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "deltaprop: CUDA backend for ${CMAKE_CUDA_ARCHITECTURES}, cuBLASLt ${CUBLASLT_LIBRARY}")

  add_library(deltaprop_cuda_core STATIC
    cpp/cuda/context.cu cpp/cuda/matmul.cu cpp/cuda/kernels.cu cpp/cuda/network.cu)
  set_target_properties(deltaprop_cuda_core PROPERTIES POSITION_INDEPENDENT_CODE ON
    CUDA_RUNTIME_LIBRARY Static CUDA_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden)
  target_include_directories(deltaprop_cuda_core PUBLIC "${CUBLASLT_INCLUDE_DIR}")
  target_compile_options(deltaprop_cuda_core PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 --expt-relaxed-constexpr>)
  target_link_libraries(deltaprop_cuda_core PUBLIC CUDA::cudart_static "${CUBLASLT_LIBRARY}")

  pybind11_add_module(_cuda MODULE NO_EXTRAS cpp/cuda/bindings.cpp cpp/cuda/device_array.cpp)
  target_link_libraries(_cuda PRIVATE deltaprop_cuda_core)
  deltaprop_keep_archive_symbols_private(_cuda)
  set_target_properties(_cuda PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  get_filename_component(CUBLASLT_LIBRARY_DIR "${CUBLASLT_LIBRARY}" DIRECTORY)
  # The nvidia-cublas wheel installs beside deltaprop/ in site-packages.
  set_target_properties(_cuda PROPERTIES INSTALL_RPATH "$ORIGIN/../nvidia/cu13/lib;${CUBLASLT_LIBRARY_DIR}")
  install(TARGETS _cuda DESTINATION deltaprop)
endif()
