# bench_attention: fused attention vs its unfused composition, and the row kernels (layernorm,
# softmax, gelu) in GB/s. Self-contained: finds Google Benchmark itself if nothing did yet.
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark CONFIG REQUIRED)
endif()
add_executable(bench_attention ${CMAKE_CURRENT_LIST_DIR}/bench_attention.cpp)
target_link_libraries(bench_attention PRIVATE hipt_autograd benchmark::benchmark hipt_warnings)
