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
 * Tests of the language file.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

#[\PHPUnit\Framework\Attributes\CoversNothing]
/**
 * Strings are in alphabetical order, and every string the plugin asks for exists.
 *
 * @coversNothing
 */
final class lang_test extends \basic_testcase {
    /**
     * The English strings.
     *
     * @return array
     */
    private static function strings(): array {
        $string = [];
        include(__DIR__ . '/../lang/en/quizaccess_proctorpy.php');
        return $string;
    }

    /**
     * Keys are sorted.
     */
    public function test_strings_are_alphabetical(): void {
        $keys = array_keys(self::strings());
        $sorted = $keys;
        sort($sorted, SORT_STRING);
        $this->assertSame($sorted, $keys);
    }

    /**
     * Every identifier used in PHP, templates and JavaScript is defined, with its _help where a help button asks.
     */
    public function test_used_strings_exist(): void {
        $root = dirname(__DIR__);
        $used = [];
        $files = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($root, \FilesystemIterator::SKIP_DOTS));
        foreach ($files as $file) {
            $path = $file->getPathname();
            if (
                strpos($path, '/node_modules/') !== false || strpos($path, '/amd/build/') !== false
                    || strpos($path, '/tests/') !== false || !preg_match('/\.(php|mustache|js)$/', $path)
            ) {
                continue;
            }
            $text = file_get_contents($path);
            preg_match_all("/get_string\\('([a-z_:0-9]+)', *(?:'quizaccess_proctorpy'|\\\$component)/", $text, $m);
            $used = array_merge($used, $m[1]);
            preg_match_all("/\\\$str\\('([a-z_0-9]+)'\\)/", $text, $m);
            $used = array_merge($used, $m[1]);
            preg_match_all('/\{\{#str\}\}([a-z_]+), quizaccess_proctorpy/', $text, $m);
            $used = array_merge($used, $m[1]);
            preg_match_all("/(?:exception|getString)\\('([a-z_]+)', '?quizaccess_proctorpy/", $text, $m);
            $used = array_merge($used, $m[1]);
            preg_match_all("/'((?:err_|privacy:metadata)[a-z_:]+)'/", $text, $m);
            $used = array_merge($used, $m[1]);
            preg_match_all("/addHelpButton\\('proctorpy_([a-z]+)'/", $text, $m);
            foreach ($m[1] as $name) {
                $used[] = $name . '_help';
            }
        }
        foreach (['insecure', 'blocked', 'absent', 'busy', 'failed'] as $problem) {
            $used[] = 'camera_' . $problem;
        }
        foreach (['on', 'reconnecting', 'off'] as $state) {
            $used[] = 'indicator_' . $state;
        }
        // The banner's strings, which the capture module names from the state it tells.
        foreach (['stopped', 'blocked', 'absent', 'busy', 'failed', 'counts'] as $problem) {
            $used[] = 'banner_camera_' . $problem;
        }
        $banners = ['banner_camera', 'banner_upload', 'banner_upload_delayed', 'banner_upload_counts', 'banner_queued',
            'banner_queued_submit', 'banner_queued_counts'];
        $used = array_merge($used, $banners);
        foreach (['ok', 'unreachable', 'blocked', 'notsidecar', 'versionmismatch', 'badsecret', 'clockskew', 'refused'] as $c) {
            $used[] = 'connection_' . $c;
        }
        foreach (connection_check::DIRECT_PROBLEMS as $c) {
            $used[] = 'directcheck_' . $c;
        }
        foreach (proctoring_settings::IDENTITY_CHECKS as $choice) {
            $used[] = 'identitycheck_' . $choice;
        }
        foreach (['viewreport', 'reviewattempt', 'downloadimages', 'deleteimages', 'bypass'] as $capability) {
            $used[] = 'proctorpy:' . $capability;
        }
        $used = array_unique($used);
        $this->assertGreaterThan(60, count($used));
        $this->assertSame([], array_values(array_diff($used, array_keys(self::strings()))));
    }
}
