// `torchsystem train --nproc N`: starts N local workers of this very command line, as torchrun does.
#pragma once

#include <string_view>

namespace torchsystem::cli {

/// Runs N copies of this process's own command line without `--nproc`, each with torchrun's environment
/// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT unless
/// MASTER_PORT is set) and the machine's cores shared out in OMP_NUM_THREADS and OPENBLAS_NUM_THREADS
/// (unless set), in a process group of their own. Ctrl-C or SIGTERM is passed on to them once.
/// When a worker fails, the others are given the process group's timeout to fail on their own (they
/// see it at their next collective), then killed. Returns 0 when all succeed, 130 when they were
/// interrupted, else the first failure's exit status.
int launch_workers(int processes);

/// The `--nproc` option of an argument, if it is one: `--nproc N` takes the next argument.
bool is_nproc_option(std::string_view argument);

}  // namespace torchsystem::cli
