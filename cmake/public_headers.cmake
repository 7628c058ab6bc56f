# Which headers under src/ an application includes (installed as
# <prefix>/include/vkcnn/<dir>/<file>) and which are vkcnn's own (never
# installed). Every header under src/ is in exactly one list, and no public
# header includes a private one, directly or not: the ctest
# install/public_headers checks both (tests/public_headers.cmake), and
# consumer/find_package that the installed tree is exactly this.

# Public in every build, the WebAssembly one included: none of these
# includes a Vulkan header, directly or not.
set(VKCNN_PUBLIC_HEADERS
  core/error.h              # vkcnn::Error and the errors applications catch
  core/hazards.h            # hazard levels (vulkan/recorder.h, vulkan/recorded_step.h)
  core/kernel_launch.h      # KernelLaunch: one dispatch as plain data, what ops' *_launch return
  core/tensor.h             # Shape, DType
  cpu/gemm.h                # sgemm, the CPU backend's matrix product
  cpu/thread_pool.h         # ThreadPool, the CPU backend's workers
  data/dataset.h            # Dataset, batches, shuffling
  data/digit.h              # MNIST's preprocessing of a drawn digit (predict, the demos)
  data/stroke_width.h       # random stroke width (grey dilation) for drawn-digit training
  data/idx.h                # IDX files
  exec/cpu_program.h        # CpuProgram
  exec/memory_check.h       # MemoryEstimate, check_memory (nn/trainer.h)
  exec/profile.h            # NodeTime
  exec/program.h            # Program, Snapshot, StepResults
  exec/state.h              # State, CpuState
  graph/compile.h           # compile() -> Plan
  graph/graph.h             # Graph, the op list
  graph/memory_plan.h       # the arena packing a Plan holds
  io/image.h                # decoding a user's image
  io/safetensors.h          # safetensors files
  nn/checkpoint.h           # checkpoints
  nn/layers.h               # Conv2d, Linear, ... (torch.nn)
  nn/model.h                # Model, ModelProgram
  nn/models.h               # lenet5, resnet_small, mobilenet_small
  nn/module.h               # Module, Sequential, BuildContext
  nn/schedule.h             # learning-rate schedules
  nn/trainer.h              # Trainer
  # ops: each op's attributes, shape rule, reference, CPU kernel and launch
  ops/accuracy.h
  ops/activations.h
  ops/adaptive_avg_pool2d.h
  ops/augment.h
  ops/avg_pool2d.h
  ops/batch_norm2d.h
  ops/binary.h
  ops/colormap.h
  ops/concat.h
  ops/conv2d.h
  ops/conv_transpose2d.h
  ops/cross_entropy.h
  ops/dropout.h
  ops/fill.h
  ops/linear.h
  ops/matmul.h
  ops/max_pool2d.h
  ops/mse_loss.h
  ops/optimizer.h
  ops/philox.h              # the counter-based generator (augment.h, dropout.h)
  ops/pool2d_geometry.h     # pooling output sizes (avg_pool2d.h, max_pool2d.h)
  ops/reduce.h
  ops/relu.h
  ops/softmax.h
  ops/unary_math.h          # the math ops of graph/graph.h: scale, abs, sign, clamp, ..., broadcast_rows
  # viz: seeing inside a network, either backend
  viz/adversarial.h         # FGSM, PGD, targeted attacks, accuracy vs epsilon, adversarial training
  viz/attribution.h         # saliency, gradient x input, SmoothGrad, Integrated Gradients, guided backprop, deconvnet, Grad-CAM, occlusion
  viz/embedding.h           # PCA and t-SNE to 2-D
  viz/features.h            # a layer's features over a dataset, nearest neighbours, k-NN accuracy, maximally activating patches
  viz/optimize.h            # images by gradient ascent: class models, units, DeepDream, textures from Gram matrices
  viz/picture.h             # RGB pictures of maps, filters and layers, grids, PNG files
  viz/pixels.h              # PixelSpace: model-space images, lengths in pixels
  viz/plot.h                # SVG line, scatter and bar plots; scatter as a picture
  viz/receptive_field.h     # the input pixels a unit of each layer sees
  viz/reports.h             # confusion matrix, misclassified gallery, training curves from a log
)

# Public in builds with the Vulkan backend (VKCNN_VULKAN) only.
set(VKCNN_PUBLIC_VULKAN_HEADERS
  exec/vulkan_colormap.h    # VulkanColormap: a value drawn as an RGBA8 image for a renderer
  exec/vulkan_program.h     # VulkanProgram, VulkanSnapshot: a host schedules our steps
  exec/vulkan_state.h       # VulkanState
  vulkan/buffer.h           # Buffer, BufferRange, MemoryUsage
  vulkan/device.h           # Device, DeviceOptions, AdoptInfo, SubmitSync, TransferStats
  vulkan/device_choice.h    # which device Device::create picks, and why
  vulkan/device_info.h      # DeviceInfo
  vulkan/instance.h         # Instance, ValidationLog
  vulkan/ownership.h        # queue-family ownership transfer to and from a host's renderer
  vulkan/quirks.h           # Quirks, GemmTuning
  vulkan/recorded_step.h    # RecordedStep
  vulkan/recorder.h         # Recorder
  vulkan/tuning_file.h      # the measured GEMM tiling (vkcnn tune)
)

# vkcnn's own: included by its sources, the CLI and the tests, never by a
# public header.
set(VKCNN_PRIVATE_HEADERS
  exec/autotune.h           # measuring GEMM tilings: `vkcnn tune` only
  exec/value_access.h       # where each kept value of a Plan lives, for both executors
  graph/lowering.h          # an op's GPU launches and CPU call
  graph/op_def.h            # OpDef: everything the graph knows about an op
  graph/step_groups.h       # fused optimizer steps (the Vulkan executor)
  graph/work.h              # estimated FLOPs per node (segments; VulkanProgram::step_flops says the sum)
  io/temporary_file.h       # locked temporaries behind atomic writes (io/safetensors.cpp)
  ops/conv2d_depthwise.h    # conv2d's direct CPU kernels for depthwise layers (ops/conv2d.cpp)
  vulkan/commands.h
  vulkan/debug_utils.h
  vulkan/device_internal.h
  vulkan/device_testing.h
  vulkan/functions.inc
  vulkan/handle.h
  vulkan/loader.h
  vulkan/memory.h
  vulkan/pipeline.h
  vulkan/result.h
  vulkan/shader_registry.h
)

# The headers a build installs: the Vulkan ones only with the Vulkan backend.
function(vkcnn_installed_headers out vulkan)
  set(headers ${VKCNN_PUBLIC_HEADERS})
  if(vulkan)
    list(APPEND headers ${VKCNN_PUBLIC_VULKAN_HEADERS})
  endif()
  set(${out} ${headers} PARENT_SCOPE)
endfunction()
