// `torchsystem train`'s output (see train_output.hpp).
#include "train_output.hpp"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>

#include "torchsystem/identity.hpp"

namespace torchsystem::cli {
namespace {

std::string percent(double fraction) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << 100.0 * fraction << "%";
  return text.str();
}

}  // namespace

void TrainOutput::on(const JobStarted& event) {
  std::ostringstream line;
  line << "data " << event.data;
  if (event.task != "classification") line << ", " << event.task;
  line << "; " << event.threads << (event.threads == 1 ? " thread" : " threads");
  if (event.processes > 1) line << " in each of " << event.processes << " processes";
  if (!event.address.empty()) line << "; rank 0 on " << event.address;
  held_ += line.str() + "\n";
}

void TrainOutput::on(const AggregateReady& event) {
  held_ += "model " + event.identity + " (" + std::to_string(event.parameters) + " parameters), " +
           event.criterion + ", " + event.optimizer + " " + dumps(event.optimizer_arguments) + "\n";
}

void TrainOutput::on(const WaitingForLock& event) {
  release_held();
  out_ << "waiting for the job training " << event.identity << " (" << event.holder << ")" << std::endl;
}

void TrainOutput::on(const JobResumed& event) {
  if (event.resumed_from > 0 && event.trained_on) {
    out_ << "resuming epoch " << event.resumed_from << " trained on " << *event.trained_on
         << "; this run trains on " << event.trains_on << "\n";
  }
  release_held();
  if (event.resumed_from > 0) {
    out_ << "resuming from epoch " << event.resumed_from << " (" << event.checkpoint.string() << ")\n";
  } else {
    out_ << "no checkpoint of this identity in " << event.store.string() << ": starting fresh\n";
  }
}

// A redrawn bar on a terminal, else a line at each quarter; both show the samples per second so far and
// the time the epoch has left at that pace.
void TrainOutput::on(const BatchDone& event) {
  const std::int64_t done = event.batch, batches = event.batches;
  if (done == 1) reported_quarter_ = 0;
  const bool last = done == batches;
  if (in_place_) {
    const auto step = std::max<std::int64_t>(1, batches / 50);
    if (done % step != 0 && !last) return;
  } else {
    const std::int64_t quarter = 4 * done / batches;
    if (quarter == reported_quarter_ || last) return;
    reported_quarter_ = quarter;
  }
  const double rate = event.seconds > 0 ? static_cast<double>(event.samples_done) / event.seconds : 0;
  const double left = rate > 0 ? static_cast<double>(event.samples - event.samples_done) / rate : 0;
  std::ostringstream line;
  line << std::fixed << std::setprecision(4) << "loss " << event.mean_loss << std::setprecision(0) << "  "
       << rate << " samples/s  " << std::setprecision(1) << left << " s left";
  if (in_place_) {
    const auto filled = static_cast<int>(30 * done / batches);
    out_ << "\r  epoch " << event.epoch << " [" << std::string(filled, '#') << std::string(30 - filled, '.')
         << "] " << std::setw(3) << 100 * done / batches << "%  " << line.str() << std::flush;
    bar_drawn_ = true;
    return;
  }
  out_ << "  epoch " << event.epoch << ": " << 25 * reported_quarter_ << "% (" << done << "/" << batches
       << " batches), " << line.str() << std::endl;
}

void TrainOutput::on(const EpochDone& event) {
  finish_progress();
  const EpochRecord& record = event.record;
  out_ << "epoch " << record.epoch << "  loss " << std::fixed << std::setprecision(4) << record.loss;
  if (!record.regression()) out_ << "  accuracy " << percent(record.accuracy);
  out_ << "  test loss " << record.test_loss;
  if (!record.regression()) out_ << "  test accuracy " << percent(record.test_accuracy);
  out_ << "  " << std::setprecision(1) << record.seconds << " s (" << std::setprecision(0)
       << record.samples_per_second << " samples/s)";
  if (event.all_reduce_ms)
    out_ << "  all-reduce " << std::setprecision(3) << *event.all_reduce_ms << " ms/step";
  out_ << "  saved " << event.checkpoint.filename().string() << std::endl;
}

void TrainOutput::on(const JobInterrupted& event) {
  release_held();
  finish_progress();
  if (event.epoch == 0) {
    out_ << "interrupted while waiting for the identity's lock: nothing was trained\n";
    return;
  }
  out_ << "interrupted during epoch " << event.epoch << ": it is not saved; the checkpoint holds epoch "
       << event.epoch - 1 << "\n";
}

void TrainOutput::release_held() {
  if (held_.empty()) return;
  out_ << held_ << std::flush;
  held_.clear();
}

void TrainOutput::finish_progress() {
  if (!in_place_ || !bar_drawn_) return;
  out_ << "\r" << std::string(100, ' ') << "\r" << std::flush;
  bar_drawn_ = false;
}

}  // namespace torchsystem::cli
