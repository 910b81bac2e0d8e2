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
 * Who may open the plugin's pages.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

/**
 * The access checks of report.php, image.php, download.php and console.php, in one place.
 *
 * Each page logs in first (require_login), then asks here.
 */
class page_access {
    /**
     * Require the right to see a quiz's proctoring reports: the overview, attempt reports and thumbnails.
     *
     * @param \cm_info $cm the quiz's course module, which the user has logged in to
     * @return \context_module the quiz's context
     * @throws \required_capability_exception
     */
    public static function require_report_viewer(\cm_info $cm): \context_module {
        $context = \context_module::instance($cm->id);
        require_capability('quizaccess/proctorpy:viewreport', $context);
        return $context;
    }

    /**
     * Require the right to an image of a report: thumbnails come with the report, the camshot at full
     * size is a copy of the original and needs the right to download images.
     *
     * @param \context_module $context the quiz's context, where the report viewer was checked
     * @param bool $thumb whether the thumbnail is asked for
     * @throws \required_capability_exception
     */
    public static function require_image(\context_module $context, bool $thumb): void {
        if (!$thumb) {
            require_capability('quizaccess/proctorpy:downloadimages', $context);
        }
    }

    /**
     * Require the right to a download: the PDF carries camshots, the CSV is the overview's table and no more.
     *
     * @param \context_module $context the quiz's context, where the report viewer was checked
     * @param string $what pdf or csv
     * @throws \required_capability_exception
     * @throws \moodle_exception for any other download
     */
    public static function require_download(\context_module $context, string $what): void {
        if ($what === 'pdf') {
            require_capability('quizaccess/proctorpy:downloadimages', $context);
        } else if ($what !== 'csv') {
            throw new \moodle_exception('err_download', 'quizaccess_proctorpy');
        }
    }

    /**
     * An attempt at this quiz by a student the viewer may see.
     *
     * The capability was checked in this quiz's context, so no attempt at another quiz is reached. In
     * separate groups mode a viewer without moodle/site:accessallgroups sees only the attempts of
     * students who share a group with them, as Moodle's own review of quiz attempts allows.
     *
     * @param int $attemptid quiz attempt id
     * @param \cm_info $cm the quiz's course module
     * @return \stdClass id, quiz, userid and state of the attempt
     * @throws \dml_missing_record_exception when the attempt is not one at this quiz
     * @throws \required_capability_exception when its student is in none of the viewer's groups
     */
    public static function attempt_of_quiz(int $attemptid, \cm_info $cm): \stdClass {
        global $DB;
        $attempt = $DB->get_record(
            'quiz_attempts',
            ['id' => $attemptid, 'quiz' => $cm->instance],
            'id, quiz, userid, state',
            MUST_EXIST
        );
        if (self::limited_to_own_groups($cm)) {
            $viewergroups = groups_get_activity_allowed_groups($cm);
            $studentgroups = groups_get_all_groups($cm->course, $attempt->userid, $cm->groupingid);
            if (!array_intersect_key($viewergroups, $studentgroups)) {
                throw new \required_capability_exception(
                    \context_module::instance($cm->id),
                    'moodle/site:accessallgroups',
                    'nopermissions',
                    ''
                );
            }
        }
        return $attempt;
    }

    /**
     * The students whose attempts the overview and its CSV list: the members of the group chosen with
     * the group selector, as Moodle's quiz reports list them. In separate groups mode a viewer without
     * moodle/site:accessallgroups chooses among their own groups only, and sees no one when in none.
     *
     * @param \cm_info $cm the quiz's course module
     * @return int[]|null user ids (none when there is no one to list), null for every student
     */
    public static function listed_user_ids(\cm_info $cm): ?array {
        $group = groups_get_activity_group($cm, true);
        if ($group) {
            return array_map('intval', array_keys(groups_get_members($group, 'u.id')));
        }
        if (self::limited_to_own_groups($cm)) {
            return [];
        }
        return null;
    }

    /**
     * The students whose attempts a web service caller gets: the members of the group asked for, which must be
     * one the caller may choose; without a group, everyone's, or in separate groups mode for a caller without
     * moodle/site:accessallgroups the members of their own groups.
     *
     * @param \cm_info $cm the quiz's course module
     * @param int $groupid the group asked for, 0 for none
     * @return int[]|null user ids (none when there is no one to list), null for every student
     * @throws \required_capability_exception for a group the caller may not choose
     */
    public static function group_user_ids(\cm_info $cm, int $groupid): ?array {
        $allowed = groups_get_activity_allowed_groups($cm);
        if ($groupid) {
            if (!isset($allowed[$groupid])) {
                throw new \required_capability_exception(
                    \context_module::instance($cm->id),
                    'moodle/site:accessallgroups',
                    'nopermissions',
                    ''
                );
            }
            return array_map('intval', array_keys(groups_get_members($groupid, 'u.id')));
        }
        if (!self::limited_to_own_groups($cm)) {
            return null;
        }
        $userids = [];
        foreach (array_keys($allowed) as $id) {
            $userids += array_fill_keys(array_keys(groups_get_members($id, 'u.id')), true);
        }
        return array_map('intval', array_keys($userids));
    }

    /**
     * The students the viewer may see, and so whose names the reports may show when the analysis recognises them in
     * someone else's camshots: in separate groups mode, for a viewer without moodle/site:accessallgroups, the members
     * of their own groups; else everyone.
     *
     * @param \cm_info $cm the quiz's course module
     * @return int[]|null user ids, null for every student
     */
    public static function nameable_user_ids(\cm_info $cm): ?array {
        return self::group_user_ids($cm, 0);
    }

    /**
     * Whether the viewer sees only their own groups: the quiz is in separate groups mode and they may not
     * access all groups.
     *
     * @param \cm_info $cm the quiz's course module
     * @return bool
     */
    private static function limited_to_own_groups(\cm_info $cm): bool {
        return groups_get_activity_groupmode($cm) == SEPARATEGROUPS
            && !has_capability('moodle/site:accessallgroups', \context_module::instance($cm->id));
    }

    /**
     * Require a site administrator: the sidecar console holds the whole site's data.
     *
     * @return \context_system
     * @throws \required_capability_exception
     */
    public static function require_site_admin(): \context_system {
        $context = \context_system::instance();
        require_capability('moodle/site:config', $context);
        return $context;
    }
}
