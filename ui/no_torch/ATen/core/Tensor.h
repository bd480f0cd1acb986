// Stands in for libtorch's <ATen/core/Tensor.h> while the widgets compile (ui/CMakeLists.txt): they must not
// include libtorch. engine_backend.cpp, the one adapter from the engine to Qt values, is compiled apart.
#error "ui/ must not include libtorch headers: go through the run backend (ui/run_backend.h)"
