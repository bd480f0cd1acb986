# Compiler launcher, warnings and precompiled headers shared by every target of the project.

# ccache: a rebuild after a small change, or a second build directory, costs seconds instead of minutes.
# The sloppiness settings let ccache cache translation units that use a precompiled header.
if(SWD_USE_CCACHE)
    find_program(SWD_CCACHE_PROGRAM ccache)
    if(SWD_CCACHE_PROGRAM)
        set(_swd_launcher ${CMAKE_COMMAND} -E env
            "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
            "CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}"
            ${SWD_CCACHE_PROGRAM})
        set(CMAKE_CXX_COMPILER_LAUNCHER ${_swd_launcher})
        set(CMAKE_C_COMPILER_LAUNCHER ${_swd_launcher})
        message(STATUS "swd: ccache ${SWD_CCACHE_PROGRAM}")
    endif()
endif()

# Our own code is built -Wall -Wextra clean; libtorch, Qt and OIIO come in as system includes.
function(swd_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unknown-pragmas)
endfunction()

# Precompiled header of the libtorch tensor API: <ATen/ATen.h> costs ~4 s per translation unit and is
# included by almost every core file; the PCH brings that under a second. Targets with the same
# compile options reuse core's PCH (swd_reuse_torch_pch).
function(swd_torch_pch target)
    if(SWD_USE_PCH)
        target_precompile_headers(${target} PRIVATE
            <ATen/ATen.h>
            <c10/util/irange.h>
            <nlohmann/json.hpp>
            <fmt/format.h>
            <filesystem>
            <functional>
            <map>
            <memory>
            <optional>
            <string>
            <vector>)
        if(SWD_CCACHE_PROGRAM AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
            target_compile_options(${target} PRIVATE -fpch-preprocess)
        endif()
    endif()
endfunction()
