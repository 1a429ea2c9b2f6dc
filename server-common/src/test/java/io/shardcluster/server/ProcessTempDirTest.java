package io.shardcluster.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessTempDirTest {
  private final String before = System.getProperty("java.io.tmpdir");

  @TempDir Path dataDir;

  @AfterEach
  void restore() {
    System.setProperty("java.io.tmpdir", before);
  }

  @Test
  void whatAKilledStartLeft_isDeleted_andTheDirectoryBecomesTheProcesssTmpdir() throws Exception {
    Path tmp = Files.createDirectories(dataDir.resolve("tmp").resolve("nested"));
    Files.writeString(tmp.resolveSibling("librocksdbjni123.so"), "left by a SIGKILLed start");
    Files.writeString(tmp.resolve("file"), "x");
    Files.writeString(dataDir.resolve("IDENTITY"), "kept");

    ProcessTempDir.claim(dataDir);

    assertThat(dataDir.resolve("tmp")).isEmptyDirectory();
    assertThat(dataDir.resolve("IDENTITY")).hasContent("kept");
    assertThat(System.getProperty("java.io.tmpdir"))
        .isEqualTo(dataDir.resolve("tmp").toAbsolutePath().toString());
  }

  @Test
  void aNewDataDirectory_getsOne() {
    ProcessTempDir.claim(dataDir.resolve("fresh"));
    assertThat(dataDir.resolve("fresh").resolve("tmp")).isEmptyDirectory();
  }

  @Test
  void aDataDirThatIsAFile_isLeftForTheServerToRefuse() throws Exception {
    Path file = Files.writeString(dataDir.resolve("not-a-dir"), "x");
    ProcessTempDir.claim(file);
    assertThat(file).hasContent("x");
    assertThat(System.getProperty("java.io.tmpdir")).isEqualTo(before);
  }
}
