package io.shardcluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReceivedFileTest {
  @TempDir Path dir;

  private static final ByteString FIRST =
      ByteString.copyFrom("first chunk ", StandardCharsets.UTF_8);
  private static final ByteString SECOND =
      ByteString.copyFrom("second chunk", StandardCharsets.UTF_8);

  private static int crcOf(ByteString... chunks) {
    CRC32C crc = new CRC32C();
    for (ByteString chunk : chunks) {
      crc.update(chunk.toByteArray());
    }
    return (int) crc.getValue();
  }

  @Test
  void chunksMatchingTheSendersChecksum_makeTheWholeFile() throws Exception {
    IncomingMigrations.ReceivedFile file =
        new IncomingMigrations.ReceivedFile(dir.resolve("0.sst"), 0);
    file.append(FIRST);
    file.append(SECOND);

    Path whole = file.finish(crcOf(FIRST, SECOND));

    assertThat(Files.readString(whole)).isEqualTo("first chunk second chunk");
  }

  @Test
  void aFileDamagedOnTheWay_isDeleted_andTheCopyIsToldToGoAgain() {
    Path path = dir.resolve("1.sst");
    IncomingMigrations.ReceivedFile file = new IncomingMigrations.ReceivedFile(path, 1);
    file.append(FIRST);
    file.append(ByteString.copyFrom("second chunK", StandardCharsets.UTF_8));

    assertThatThrownBy(() -> file.finish(crcOf(FIRST, SECOND)))
        .isInstanceOfSatisfying(
            ShardClusterException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
              assertThat(e.getMessage())
                  .isEqualTo("table file 1 arrived damaged (checksum mismatch)");
            });
    assertThat(path).doesNotExist();
  }
}
