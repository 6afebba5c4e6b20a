#include "launch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "command.hpp"
#include "torchsystem/training/distributed.hpp"

namespace torchsystem::cli {
namespace {

std::vector<std::string> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> arguments;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = text.find('\0', start);
    arguments.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return arguments;
}

std::vector<std::string> without_nproc(const std::vector<std::string>& arguments) {
  std::vector<std::string> kept;
  for (std::size_t index = 0; index < arguments.size(); ++index) {
    if (arguments[index] == "--nproc") {
      ++index;  // and its value
    } else if (!arguments[index].starts_with("--nproc=")) {
      kept.push_back(arguments[index]);
    }
  }
  return kept;
}

/// A port free on the loopback interface now: the kernel's pick for port 0.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool found = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!found) throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(errno));
  return ntohs(address.sin_port);
}

struct Worker {
  pid_t pid = 0;
  int rank = 0;
  std::optional<int> status;  ///< the exit status, 128 + the signal for a killed one
};

/// In the child: the environment of its rank, then this program again.
[[noreturn]] void become_worker(const std::vector<std::string>& arguments, int rank, int processes, int port,
                                pid_t launcher, const sigset_t& unblocked) {
  // Killed with the launcher, so that a killed launcher leaves no workers training behind it.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != launcher) _exit(1);
  sigprocmask(SIG_SETMASK, &unblocked, nullptr);
  const std::string values[] = {std::to_string(rank), std::to_string(processes), std::to_string(port)};
  setenv("RANK", values[0].c_str(), 1);
  setenv("LOCAL_RANK", values[0].c_str(), 1);
  setenv("WORLD_SIZE", values[1].c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", values[1].c_str(), 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", values[2].c_str(), 1);
  // The machine's cores shared out, as torchrun does for OpenMP: each worker's BLAS threads would
  // otherwise default to every core, and N workers would oversubscribe them N times. A value the user
  // set is kept.
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  const std::string share = std::to_string(std::max(1U, cores / static_cast<unsigned>(processes)));
  setenv("OMP_NUM_THREADS", share.c_str(), 0);
  setenv("OPENBLAS_NUM_THREADS", share.c_str(), 0);
  std::vector<char*> argv;
  for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  std::fprintf(stderr, "torchsystem: cannot start rank %d: %s\n", rank, std::strerror(errno));
  _exit(127);
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::string described(int status) {
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

bool is_nproc_option(std::string_view argument) {
  return argument == "--nproc" || argument.starts_with("--nproc=");
}

int launch_workers(int processes) {
  const std::vector<std::string> arguments = without_nproc(own_command_line());
  const char* preset = std::getenv("MASTER_PORT");
  const int port = preset && *preset ? std::atoi(preset) : free_port();
  sigset_t handled, previous;
  sigemptyset(&handled);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &previous);
  const pid_t launcher = getpid();

  std::vector<Worker> workers;
  pid_t group = 0;
  for (int rank = 0; rank < processes; ++rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      // Their own process group: a terminal's Ctrl-C reaches the launcher alone, which passes it on once.
      setpgid(0, group);
      become_worker(arguments, rank, processes, port, launcher, previous);
    }
    if (pid < 0) {
      std::fprintf(stderr, "torchsystem: cannot start rank %d: %s\n", rank, std::strerror(errno));
      if (group != 0) kill(-group, SIGKILL);
      break;
    }
    if (group == 0) group = pid;
    setpgid(pid, group);
    workers.push_back({pid, rank, std::nullopt});
  }

  const auto timeout =
      std::chrono::duration_cast<std::chrono::seconds>(DistributedOptions::timeout_from_environment());
  std::optional<int> first_failure;
  bool interrupted = false;
  std::time_t deadline = 0;  // when the ranks still running are killed; 0: none
  std::size_t running = workers.size();
  while (running > 0) {
    timespec wait{1, 0};
    siginfo_t info{};
    const int signal = sigtimedwait(&handled, &info, &wait);
    if (signal == SIGINT || signal == SIGTERM) {
      interrupted = true;
      kill(-group, signal);
    }
    int status = 0;
    for (pid_t pid; (pid = waitpid(-group, &status, WNOHANG)) > 0;) {
      for (auto& worker : workers) {
        if (worker.pid != pid) continue;
        worker.status = status_code(status);
        --running;
        if (*worker.status != 0 && *worker.status != 130 && !first_failure) {
          first_failure = *worker.status;
          std::fprintf(stderr,
                       "torchsystem: rank %d (pid %d) %s; the other ranks fail at their next exchange, "
                       "within %llds\n",
                       worker.rank, pid, described(status).c_str(), static_cast<long long>(timeout.count()));
          deadline = std::time(nullptr) + timeout.count() + 10;
        }
      }
    }
    if (deadline != 0 && running > 0 && std::time(nullptr) > deadline) {
      std::fprintf(stderr, "torchsystem: killing the ranks still running after %llds\n",
                   static_cast<long long>(timeout.count() + 10));
      kill(-group, SIGKILL);
      deadline = 0;
    }
  }
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  if (first_failure) return *first_failure;
  if (workers.size() < static_cast<std::size_t>(processes)) return exit_bad_data;
  for (const auto& worker : workers)
    if (worker.status != 0) return interrupted ? 130 : worker.status.value_or(exit_bad_data);
  return exit_ok;
}

}  // namespace torchsystem::cli
