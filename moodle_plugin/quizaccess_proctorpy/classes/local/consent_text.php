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
 * The consent text a student reads before a proctored attempt.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

use moodle_url;

/**
 * The site's own consent text, or the standard one: what data protection asks to be told before biometric
 * data is processed (what is taken, how faces are matched, for how long it is kept, who sees it, the
 * student's rights and whom to ask, and what a student who does not consent can do).
 */
class consent_text {
    /**
     * The consent text of a quiz, as HTML not yet formatted.
     *
     * @param \stdClass $quiz the quiz with its proctoring settings (proctorpy_retentiondays)
     * @return string
     */
    public static function for_quiz(\stdClass $quiz): string {
        $text = (string) get_config('quizaccess_proctorpy', 'consenttext');
        if (trim(strip_tags($text)) !== '') {
            return $text;
        }
        $days = $quiz->proctorpy_retentiondays ?? null;
        return get_string('consenttext_default', 'quizaccess_proctorpy', (object) [
            // Without a quiz's own period, the sidecar's site default applies, which Moodle does not know.
            'retention' => ($days === null || $days === '')
                ? get_string('consentretentionsite', 'quizaccess_proctorpy')
                : get_string('consentretentiondays', 'quizaccess_proctorpy', (int) $days),
            'contact' => self::contact(),
        ]);
    }

    /**
     * Where a student reads the site's privacy notice and asks about their data: the site policy, the
     * policies of tool_policy, and the data protection officer of tool_dataprivacy, whichever the site has;
     * the teacher or the site administrator when it has none.
     *
     * @return string HTML
     */
    public static function contact(): string {
        global $CFG;
        $sentences = [];
        if (!empty($CFG->sitepolicyhandler) && $CFG->sitepolicyhandler === 'tool_policy') {
            $notice = new moodle_url('/admin/tool/policy/viewall.php');
        } else if (!empty($CFG->sitepolicy)) {
            $notice = new moodle_url($CFG->sitepolicy);
        }
        if (isset($notice)) {
            $sentences[] = get_string('consentcontact_notice', 'quizaccess_proctorpy', $notice->out(false));
        }
        if (get_config('tool_dataprivacy', 'contactdataprotectionofficer')) {
            $sentences[] = get_string(
                'consentcontact_dpo',
                'quizaccess_proctorpy',
                (new moodle_url('/admin/tool/dataprivacy/mydatarequests.php'))->out(false)
            );
        }
        if (!$sentences) {
            $sentences[] = get_string('consentcontact_none', 'quizaccess_proctorpy');
        }
        return implode(' ', $sentences);
    }
}
