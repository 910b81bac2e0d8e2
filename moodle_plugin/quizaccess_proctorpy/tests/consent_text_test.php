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

use quizaccess_proctorpy\local\consent_text;

#[\PHPUnit\Framework\Attributes\CoversClass(consent_text::class)]
/**
 * Tests of the consent text: what the standard one tells a student, and where it sends them to ask.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\local\consent_text
 */
final class consent_text_test extends \advanced_testcase {
    /**
     * A quiz as the rule holds it: with its retention override, or none.
     *
     * @param int|null $days the quiz's retention override
     * @return \stdClass
     */
    private static function quiz(?int $days): \stdClass {
        return (object) ['id' => 1, 'proctorpy_retentiondays' => $days];
    }

    /**
     * The standard text says what is taken, how faces are matched, for how long, who sees it, the rights, and what
     * a student who does not consent can do.
     */
    public function test_standard_text_says_what_data_protection_asks(): void {
        global $CFG;
        $this->resetAfterTest();
        $CFG->sitepolicy = '';
        $CFG->sitepolicyhandler = '';
        set_config('contactdataprotectionofficer', 0, 'tool_dataprivacy');
        $text = consent_text::for_quiz(self::quiz(180));
        $this->assertStringContainsString('your webcam takes photos at random moments', $text);
        $this->assertStringContainsString('matched against your Moodle profile photo and against the photos of the other '
            . 'students of this quiz', $text);
        $this->assertStringContainsString('biometric data', $text);
        $this->assertStringContainsString('kept for 180 days after the attempt, then deleted', $text);
        $this->assertStringContainsString('the teachers of this course who may view proctoring reports, and by the site '
            . 'administrators', $text);
        $this->assertStringContainsString('the right to access this data, to have it erased and to object', $text);
        $this->assertStringContainsString(get_string('consentcontact_none', 'quizaccess_proctorpy'), $text);
        $this->assertStringContainsString('speak to your teacher, who can arrange an alternative', $text);
    }

    /**
     * Without a quiz's own retention period the site's applies, which Moodle does not know: the text says so.
     */
    public function test_without_a_quiz_period_the_sites_is_named(): void {
        $this->resetAfterTest();
        $text = consent_text::for_quiz(self::quiz(null));
        $this->assertStringContainsString('kept for the period the site\'s retention policy sets', $text);
        $this->assertStringNotContainsString('{$a', $text);
    }

    /**
     * The site's privacy notice: tool_policy's policies, else $CFG->sitepolicy; the data protection officer when
     * tool_dataprivacy lets students contact them.
     */
    public function test_contact_links_the_sites_privacy_notice_and_officer(): void {
        global $CFG;
        $this->resetAfterTest();
        $CFG->sitepolicyhandler = '';
        $CFG->sitepolicy = 'https://example.edu/privacy';
        set_config('contactdataprotectionofficer', 0, 'tool_dataprivacy');
        $this->assertSame(
            get_string('consentcontact_notice', 'quizaccess_proctorpy', 'https://example.edu/privacy'),
            consent_text::contact()
        );

        $CFG->sitepolicyhandler = 'tool_policy';
        set_config('contactdataprotectionofficer', 1, 'tool_dataprivacy');
        $contact = consent_text::contact();
        $this->assertStringContainsString('href="' . $CFG->wwwroot . '/admin/tool/policy/viewall.php"', $contact);
        $this->assertStringContainsString('href="' . $CFG->wwwroot . '/admin/tool/dataprivacy/mydatarequests.php"', $contact);
        $this->assertStringNotContainsString(get_string('consentcontact_none', 'quizaccess_proctorpy'), $contact);
    }

    /**
     * The site's own consent text replaces the standard one whole.
     */
    public function test_the_sites_own_text_is_used_as_it_is(): void {
        $this->resetAfterTest();
        set_config('consenttext', '<p>Our own words.</p>', 'quizaccess_proctorpy');
        $this->assertSame('<p>Our own words.</p>', consent_text::for_quiz(self::quiz(30)));
    }
}
