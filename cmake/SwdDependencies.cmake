# Third-party packages. Every workaround for Debian bookworm is explained in
# docs/build-environment.md (summary of ../shared/spec/build-environment.md).

# libtorch: Debian's 1.13 (CI) or a user's 2.x with CUDA (-DCMAKE_PREFIX_PATH=/path/to/libtorch).
find_package(Torch REQUIRED)
message(STATUS "swd: libtorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}")
# A CUDA libtorch (the user's 2.x build): enables GPU memory statistics.
set(SWD_WITH_CUDA OFF)
if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda OR CAFFE2_USE_CUDA)
    set(SWD_WITH_CUDA ON)
endif()
message(STATUS "swd: CUDA support in libtorch: ${SWD_WITH_CUDA}")

find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(Threads REQUIRED)

# OpenImageIO through its pkg-config file, the library only. Debian's exported CMake targets are unusable
# on a fresh machine: they name /usr/bin/iconvert and the other command-line tools (package
# openimageio-tools, which nothing here needs) and /usr/include/opencv4, and CMake refuses the whole
# package when one referenced file is missing.
find_package(PkgConfig REQUIRED)
pkg_check_modules(OpenImageIO REQUIRED IMPORTED_TARGET GLOBAL OpenImageIO>=2.2)
add_library(OpenImageIO::OpenImageIO ALIAS PkgConfig::OpenImageIO)
message(STATUS "swd: OpenImageIO ${OpenImageIO_VERSION}")

# libpng: PNG text chunks as iTXt (OIIO writes Latin-1 tEXt, which mangles non-ASCII prompts).
find_package(PNG REQUIRED)

# OpenSSL: SHA-256 of model files for the run metadata.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

# sentencepiece: no CMake config in Debian. It must never be linked into a process that links libtorch
# (two protobuf copies crash at start-up); core/text/spm_module is a dlopen()ed MODULE instead.
pkg_check_modules(SentencePiece REQUIRED IMPORTED_TARGET sentencepiece)

# ICU (libicu-dev): Unicode classes, NFC and lower-casing of the CLIP tokenizer.
find_package(ICU REQUIRED COMPONENTS uc)

# oneDNN headers (libdnnl-dev): the models' CPU fast path calls the oneDNN that libtorch 1.13 already
# loads (fused matmul post-ops, fp32 outputs from bf16). Optional: without it the models use ATen only.
find_path(SWD_DNNL_INCLUDE dnnl.hpp)
find_library(SWD_DNNL_LIBRARY NAMES dnnl)
if(SWD_DNNL_INCLUDE AND SWD_DNNL_LIBRARY)
    add_library(swd_dnnl INTERFACE IMPORTED)
    target_include_directories(swd_dnnl INTERFACE ${SWD_DNNL_INCLUDE})
    target_link_libraries(swd_dnnl INTERFACE ${SWD_DNNL_LIBRARY})
    target_compile_definitions(swd_dnnl INTERFACE SWD_HAVE_ONEDNN=1)
    message(STATUS "swd: oneDNN ${SWD_DNNL_LIBRARY}")
endif()

# CLI11 (header only).
find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
    find_path(SWD_CLI11_INCLUDE CLI/CLI.hpp REQUIRED)
    add_library(CLI11::CLI11 INTERFACE IMPORTED)
    target_include_directories(CLI11::CLI11 INTERFACE ${SWD_CLI11_INCLUDE})
endif()

# Qt 6 for the GUI and the test suites. Qt Charts needs libqt6opengl6-dev on Debian (not a dependency
# of qt6-charts-dev). QT_NO_KEYWORDS is set on every Qt target: Qt's `slots` macro breaks libtorch headers.
set(_swd_qt_components "")
if(SWD_BUILD_TESTS)
    list(APPEND _swd_qt_components Core Gui Test)  # Gui: QImage reads our images back independently
endif()
if(SWD_BUILD_GUI)
    list(APPEND _swd_qt_components Core Gui Widgets Charts Concurrent Svg)
endif()
if(_swd_qt_components)
    list(REMOVE_DUPLICATES _swd_qt_components)
    find_package(Qt6 6.4 REQUIRED COMPONENTS ${_swd_qt_components})
    set(CMAKE_AUTOMOC ON)
    set(CMAKE_AUTORCC ON)
endif()
function(swd_qt_target target)
    target_compile_definitions(${target} PRIVATE QT_NO_KEYWORDS)
endfunction()

# clang for the libFuzzer target (optional).
if(SWD_FUZZ)
    find_program(SWD_CLANG NAMES clang++ clang++-14)
    if(SWD_CLANG)
        message(STATUS "swd: libFuzzer target with ${SWD_CLANG}")
    endif()
endif()
