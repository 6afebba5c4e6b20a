// `torchsystem train`'s output: the training job's events (torchsystem/training/events.hpp) rendered as
// the command prints them: a line for the data and the model, a progress bar redrawn in place on a
// terminal (else a line at each quarter of an epoch), and a line per saved epoch.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "torchsystem/training/events.hpp"

namespace torchsystem::cli {

class TrainOutput : public TrainingObserver {
 public:
  /// `in_place` redraws the progress line with '\r' (for a terminal).
  TrainOutput(std::ostream& out, bool in_place) : out_(out), in_place_(in_place) {}
  TrainOutput(const TrainOutput&) = delete;
  TrainOutput& operator=(const TrainOutput&) = delete;
  /// Prints the lines still held (a job that failed before it resumed).
  ~TrainOutput() override { release_held(); }

  void on(const JobStarted& event) override;
  void on(const AggregateReady& event) override;
  void on(const WaitingForLock& event) override;
  void on(const JobResumed& event) override;
  void on(const BatchDone& event) override;
  void on(const EpochDone& event) override;
  void on(const JobInterrupted& event) override;

 private:
  /// Clears a progress bar drawn in place.
  void finish_progress();
  /// Prints the data and model lines, held until the job knows what it resumes: a run that resumes on
  /// other data than its checkpoint's says so first.
  void release_held();

  std::ostream& out_;
  bool in_place_;
  bool bar_drawn_ = false;
  std::int64_t reported_quarter_ = 0;
  std::string held_;
};

}  // namespace torchsystem::cli
