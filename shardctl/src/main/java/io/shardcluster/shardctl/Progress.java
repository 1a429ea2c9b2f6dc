package io.shardcluster.shardctl;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.jspecify.annotations.Nullable;

/** A progress bar on the terminal, or nothing when output is not a terminal. */
final class Progress implements AutoCloseable {
  private final @Nullable ProgressBar bar;

  Progress(String task, long total, String unit) {
    this.bar =
        !Output.isTerminal()
            ? null
            : new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(total)
                .setUnit(" " + unit, 1)
                .setStyle(ProgressBarStyle.ASCII)
                .showSpeed()
                .build();
  }

  void stepBy(long n) {
    if (bar != null) {
      bar.stepBy(n);
    }
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
  }
}
