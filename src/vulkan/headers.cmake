# Which headers of src/vulkan an application includes (installed) and which
# are vkcnn's own (not installed). Public headers include no private one:
# the ctest vulkan/public_headers compiles each public header alone and
# checks its transitive includes (tests/vulkan/public_headers.cmake); every
# header here must be in one list or the other.
set(VKCNN_VULKAN_PUBLIC_HEADERS
  buffer.h        # Buffer, BufferRange, MemoryUsage
  device.h        # Device, DeviceOptions, AdoptInfo, SubmitSync, TransferStats
  device_info.h   # DeviceInfo, device choice
  instance.h      # Instance, ValidationLog
  ownership.h     # queue-family ownership transfer to and from a host's renderer
  quirks.h        # Quirks, GemmTuning
  recorded_step.h # RecordedStep
  recorder.h      # Recorder
  tuning_file.h   # the measured GEMM tiling (vkcnn tune)
)
set(VKCNN_VULKAN_PRIVATE_HEADERS
  commands.h
  debug_utils.h
  device_internal.h
  device_testing.h
  functions.inc
  handle.h
  loader.h
  memory.h
  pipeline.h
  result.h
  shader_registry.h
)
