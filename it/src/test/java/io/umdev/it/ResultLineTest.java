package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ResultLineTest {

    @Test
    void parsesKindAndFieldsInPrintedOrder() {
        ResultLine line = ResultLine.parse("@umdev blk-seq dev=vda op=read bs=1048576 mb_per_s=1710.7").orElseThrow();

        assertEquals("blk-seq", line.kind());
        assertTrue(line.is(ResultKind.BLK_SEQ));
        assertEquals(List.of("dev", "op", "bs", "mb_per_s"), List.copyOf(line.fields().keySet()));
        assertEquals(1_048_576, line.intNumber("bs"));
        assertEquals(1710.7, line.decimal("mb_per_s"));
    }

    @Test
    void consoleLinesThatAreNotResultsAreSkipped() {
        assertEquals(Optional.empty(), ResultLine.parse("[    7.110934] reboot: Power down"));
        assertEquals(Optional.empty(), ResultLine.parse("umdev end status=ok"));
        assertEquals(Optional.empty(), ResultLine.parse(""));
    }

    @Test
    void serialLineEndingsAndPaddingAreTolerated() {
        ResultLine line = ResultLine.parse("@umdev end status=ok  errors=0 \r").orElseThrow();

        assertEquals("ok", line.text("status"));
        assertEquals(0, line.number("errors"));
    }

    @Test
    void hexadecimalNumbersMayUseAll64Bits() {
        ResultLine line = ResultLine.parse("@umdev virtio features=0xffffffffffffffff status=0x0f").orElseThrow();

        assertEquals(-1L, line.number("features"));
        assertEquals(0x0f, line.intNumber("status"));
    }

    @Test
    void dashMeansAbsentValueAndEmptyList() {
        ResultLine line = ResultLine.parse("@umdev pci driver=- caps=- bars=0:io:0xc000:0x80,1:mem32:0xfebfe000:0x1000")
                .orElseThrow();

        assertEquals(Optional.empty(), line.optionalText("driver"));
        assertEquals(List.of(), line.list("caps"));
        assertEquals(List.of("0:io:0xc000:0x80", "1:mem32:0xfebfe000:0x1000"), line.list("bars"));
    }

    @Test
    void yesAndNoAreFlags() {
        ResultLine line = ResultLine.parse("@umdev blk-integrity verified=yes other=no").orElseThrow();

        assertTrue(line.flag("verified"));
        assertFalse(line.flag("other"));
    }

    @Test
    void tokenWithoutEqualsSignIsMalformed() {
        MalformedResultException e = assertThrows(MalformedResultException.class,
                () -> ResultLine.parse("@umdev error reason=No such file"));

        assertTrue(e.getMessage().contains("'such'"), e.getMessage());
    }

    @Test
    void lineWithoutKindIsMalformed() {
        assertThrows(MalformedResultException.class, () -> ResultLine.parse("@umdev status=ok"));
    }

    @Test
    void missingKeyIsReportedWithTheLine() {
        ResultLine line = ResultLine.parse("@umdev end status=ok").orElseThrow();

        MalformedResultException e = assertThrows(MalformedResultException.class, () -> line.number("errors"));
        assertTrue(e.getMessage().contains("@umdev end status=ok"), e.getMessage());
    }

    @Test
    void notANumberIsMalformed() {
        ResultLine line = ResultLine.parse("@umdev blk-rand iops=fast").orElseThrow();

        assertThrows(MalformedResultException.class, () -> line.decimal("iops"));
        assertThrows(MalformedResultException.class, () -> line.number("iops"));
    }
}
