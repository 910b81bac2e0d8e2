<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

/**
 * Tests of image decoding and multipart bodies.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\camshot_image::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\multipart::class)]
/**
 * What the capture module posts is checked before it is forwarded, and forwarded intact.
 *
 * @covers \quizaccess_proctorpy\camshot_image
 * @covers \quizaccess_proctorpy\multipart
 */
final class camshot_test extends \basic_testcase {
    /**
     * A valid 1x1 PNG.
     *
     * @return string bytes
     */
    private static function png(): string {
        return base64_decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==');
    }

    /**
     * PNG and JPEG, plain base64 or data URL, are accepted with their type.
     */
    public function test_accepts_png_and_jpeg(): void {
        $png = self::png();
        $image = camshot_image::from_base64(base64_encode($png));
        $this->assertSame('image/png', $image->mimetype);
        $this->assertSame($png, $image->bytes);
        $jpeg = "\xFF\xD8\xFF\xE0" . str_repeat("\0", 20);
        $image = camshot_image::from_base64('data:image/jpeg;base64,' . base64_encode($jpeg));
        $this->assertSame('image/jpeg', $image->mimetype);
        $this->assertSame($jpeg, $image->bytes);
    }

    /**
     * Bad input and the reason given.
     *
     * @return array
     */
    public static function bad_images(): array {
        return [
            'not base64' => ['%%%not base64%%%', 'err_imagenotbase64'],
            'empty' => ['', 'err_imagenotbase64'],
            'a GIF' => [base64_encode("GIF89a\x01\x00\x01\x00"), 'err_imagetype'],
            'HTML' => [base64_encode('<html><script>alert(1)</script>'), 'err_imagetype'],
            'too large' => [str_repeat('A', (int) (camshot_image::MAX_BYTES * 4 / 3) + 8), 'err_imagetoolarge'],
        ];
    }

    /**
     * Bad input is refused with its reason.
     *
     * @dataProvider bad_images
     * @param string $data posted text
     * @param string $reason expected lang string id
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('bad_images')]
    public function test_refuses_bad_input(string $data, string $reason): void {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage($reason);
        camshot_image::from_base64($data);
    }

    /**
     * A multipart body has each field and the file byte for byte, and a matching content type.
     */
    public function test_multipart_body(): void {
        $png = self::png();
        $form = new multipart(
            ['attempt_id' => '42', 'kind' => 'attempt'],
            [['image', 'camshot.png', $png, 'image/png'], ['frame', 'b.jpg', 'JPEG', 'image/jpeg']],
            'BOUND'
        );
        $this->assertSame('multipart/form-data; boundary=BOUND', $form->contenttype);
        $this->assertSame("--BOUND\r\nContent-Disposition: form-data; name=\"attempt_id\"\r\n\r\n42\r\n"
            . "--BOUND\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nattempt\r\n"
            . "--BOUND\r\nContent-Disposition: form-data; name=\"image\"; filename=\"camshot.png\"\r\n"
            . "Content-Type: image/png\r\n\r\n" . $png . "\r\n"
            . "--BOUND\r\nContent-Disposition: form-data; name=\"frame\"; filename=\"b.jpg\"\r\n"
            . "Content-Type: image/jpeg\r\n\r\nJPEG\r\n--BOUND--\r\n", $form->body);
        $random = new multipart([], [['image', 'a.png', $png, 'image/png']]);
        $this->assertMatchesRegularExpression('/^multipart\/form-data; boundary=proctorpy[0-9a-f]{24}$/', $random->contenttype);
    }
}
