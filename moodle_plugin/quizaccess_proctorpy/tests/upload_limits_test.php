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

namespace quizaccess_proctorpy;

use core_external\external_api;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\camshot_image::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\upload_camshot::class)]
/**
 * Tests of the bounds a camshot's sides and shape must keep before Moodle forwards it, against a live sidecar.
 *
 * The sidecar is named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET; without them these tests fail.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\camshot_image
 * @covers     \quizaccess_proctorpy\external\upload_camshot
 */
final class upload_limits_test extends \advanced_testcase {
    use proctorpy_helper;

    /**
     * A one-colour palette PNG: a strip of 640x26000 takes 16 MB of memory to draw, not 64.
     *
     * @param int $width pixels
     * @param int $height pixels
     * @return string PNG bytes
     */
    private static function strip(int $width, int $height): string {
        $image = imagecreate($width, $height);
        imagecolorallocate($image, 180, 180, 170);
        ob_start();
        imagepng($image);
        $bytes = ob_get_clean();
        imagedestroy($image);
        return $bytes;
    }

    /**
     * Images past a side or the aspect ratio, and the reason given.
     *
     * @return array width, height, lang string id
     */
    public static function strips(): array {
        return [
            'tall strip' => [640, 26000, 'err_imagesides'],
            'wide strip' => [26000, 640, 'err_imagesides'],
            'wider than 4:1' => [2000, 400, 'err_imageaspect'],
            'taller than 4:1' => [100, 401, 'err_imageaspect'],
        ];
    }

    /**
     * The external function refuses a strip as a final invalid parameter, and the sidecar never sees it.
     *
     * @dataProvider strips
     * @param int $width pixels
     * @param int $height pixels
     * @param string $reason expected lang string id
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('strips')]
    public function test_upload_camshot_refuses_a_strip_before_forwarding(int $width, int $height, string $reason): void {
        $this->resetAfterTest();
        $client = $this->use_live_sidecar();
        [$course, $student] = $this->create_course_with_users();
        $attempt = $this->start_attempt($this->create_quiz($course), $student);
        $_POST['sesskey'] = sesskey();
        $answer = external_api::call_external_function('quizaccess_proctorpy_upload_camshot', [
            'attemptid' => $attempt->id, 'takenat' => (int) (microtime(true) * 1000), 'clientshotid' => 'strip1',
            'kind' => 'attempt', 'image' => base64_encode(self::strip($width, $height)),
        ], true);
        $this->assertTrue($answer['error']);
        $this->assertSame('invalidparameter', $answer['exception']->errorcode);
        $this->assertStringContainsString(get_string($reason, 'quizaccess_proctorpy'), $answer['exception']->debuginfo);
        $this->assertSame([], $this->sidecar_attempt($client, $attempt->id)['shots']);
    }

    /**
     * A camera's frames pass, up to the bounds themselves.
     */
    public function test_camera_frames_pass(): void {
        foreach ([[1920, 1080], [1080, 1920], [400, 100], [camshot_image::MAX_SIDE, camshot_image::MAX_SIDE]] as $size) {
            $image = camshot_image::from_base64(base64_encode(self::strip(...$size)));
            $this->assertSame('image/png', $image->mimetype, implode('x', $size));
        }
    }

    /**
     * The reasons a student or teacher reads name the bounds the code applies.
     */
    public function test_reasons_name_the_bounds(): void {
        $this->assertStringContainsString(
            camshot_image::MAX_SIDE . ' pixels',
            get_string('err_imagesides', 'quizaccess_proctorpy')
        );
        $this->assertStringContainsString(
            camshot_image::MAX_ASPECT_RATIO . ' times',
            get_string('err_imageaspect', 'quizaccess_proctorpy')
        );
        $this->assertStringContainsString(
            (camshot_image::MAX_BYTES / 1024 / 1024) . ' MB',
            get_string('err_imagetoolarge', 'quizaccess_proctorpy')
        );
    }
}
