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
 * The teacher's live view of a quiz: one tile per attempt in progress.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

use mod_quiz\quiz_attempt;
use mod_quiz\quiz_settings;
use quizaccess_proctorpy\api;
use quizaccess_proctorpy\image_link;
use quizaccess_proctorpy\sidecar_client;
use quizaccess_proctorpy\sidecar_exception;
use quizaccess_proctorpy\vocabulary;

/**
 * Turns the sidecar's live answer into the tiles that live.php and the get_live external function show.
 *
 * The attempts come from Moodle (in progress, students the viewer may see, as the overview lists them), their
 * camshots, verdicts, events and scores from the sidecar (GET /api/v1/quizzes/<id>/live), in its order: the most
 * serious problem first. Names are Moodle's; thumbnails go through image.php like the report's. Students still at
 * the identity step are Moodle's to know (identity_step::waiting): their tiles say so and come first, with the
 * button that lets the attempt go on for a viewer who may waive the check.
 */
class live_view {
    /** Seconds between two refreshes of the live view. */
    const REFRESH_SECONDS = 5;

    /** Verdicts that are a problem with the face on camera (the others: face ok, not analysed yet, unreadable). */
    const PROBLEM_VERDICTS = ['no_face', 'multiple_faces', 'mismatch', 'substitution'];

    /** @var \cm_info the quiz's course module, as the viewer sees it */
    private $cm;
    /** @var sidecar_client the sidecar */
    private $client;
    /** @var string Moodle's $CFG->wwwroot */
    private $wwwroot;
    /** @var bool whether the site uses slash arguments */
    private $slasharguments;

    /**
     * The live view of one quiz for the current user.
     *
     * @param \cm_info $cm the quiz's course module, to which the viewer has logged in
     * @param sidecar_client $client the sidecar
     * @param string $wwwroot Moodle's $CFG->wwwroot
     * @param bool $slasharguments whether the site uses slash arguments
     */
    public function __construct(\cm_info $cm, sidecar_client $client, string $wwwroot, bool $slasharguments) {
        $this->cm = $cm;
        $this->client = $client;
        $this->wwwroot = $wwwroot;
        $this->slasharguments = $slasharguments;
    }

    /**
     * The live view with the site's sidecar and addresses.
     *
     * @param \cm_info $cm the quiz's course module
     * @return self
     */
    public static function for_quiz(\cm_info $cm): self {
        global $CFG;
        return new self($cm, sidecar_client::from_config(), $CFG->wwwroot, !empty($CFG->slasharguments));
    }

    /**
     * Whether a quiz has attempts in progress, for which the live view is worth opening.
     *
     * @param int $quizid quiz id
     * @return bool
     */
    public static function has_attempts_in_progress(int $quizid): bool {
        global $DB;
        return $DB->record_exists_select(
            'quiz_attempts',
            'quiz = ? AND preview = 0 AND state IN (?, ?)',
            [$quizid, quiz_attempt::IN_PROGRESS, quiz_attempt::OVERDUE]
        );
    }

    /**
     * The tiles the viewer may see, with a summary: what the live_tiles template and get_live return.
     *
     * @param bool $flaggedonly only the attempts that need attention now
     * @param bool $opened the page is being opened (audited by the sidecar), not refreshed
     * @return array tiles, total, shown, flagged (how many need attention now), flaggedonly, summary, emptymessage,
     *     updated
     * @throws sidecar_exception when the sidecar does not answer or refuses
     */
    public function export(bool $flaggedonly, bool $opened = false): array {
        global $USER;
        $data = [
            'tiles' => [],
            'total' => 0,
            'shown' => 0,
            'flagged' => 0,
            'flaggedonly' => $flaggedonly,
            'summary' => '',
            'emptymessage' => get_string('livenone', 'quizaccess_proctorpy'),
            // With its seconds, so that the viewer sees the view refresh.
            'updated' => get_string('liveupdated', 'quizaccess_proctorpy', userdate(time(), '%H:%M:%S')),
        ];
        $userids = page_access::listed_user_ids($this->cm);
        if ($userids === []) {
            $data['emptymessage'] = get_string('nostudentstolist', 'quizaccess_proctorpy');
            return $data;
        }
        $attempts = $this->attempts_in_progress($userids);
        if (!$attempts) {
            return $data;
        }
        $actor = $opened ? api::actor((int) $USER->id, fullname($USER)) : null;
        $answer = $this->client->json('GET', api::quiz_live((int) $this->cm->instance, $userids, $actor));
        $waiting = array_column(
            identity_step::waiting(quiz_settings::create((int) $this->cm->instance)->get_quiz(), $userids),
            'id'
        );
        $tiles = $this->tiles($answer, $attempts, array_map('intval', $waiting));
        $flagged = array_values(array_filter($tiles, function (array $tile): bool {
            return $tile['problem'];
        }));
        $shown = $flaggedonly ? $flagged : $tiles;
        $data['tiles'] = $shown;
        $data['total'] = count($tiles);
        $data['shown'] = count($shown);
        $data['flagged'] = count($flagged);
        $data['summary'] = get_string(
            count($tiles) === 1 ? 'livesummaryone' : 'livesummary',
            'quizaccess_proctorpy',
            ['total' => count($tiles), 'attention' => count($flagged)]
        );
        if ($flaggedonly && !$flagged) {
            $data['emptymessage'] = get_string('livenoneflagged', 'quizaccess_proctorpy');
        }
        return $data;
    }

    /**
     * The whole page's context for the live template: the tiles, or the sidecar's failure said plainly.
     *
     * @param bool $flaggedonly only the attempts that need attention now
     * @return array
     */
    public function page_context(bool $flaggedonly): array {
        $cmid = (int) $this->cm->id;
        $context = [
            'cmid' => $cmid,
            'refreshseconds' => self::REFRESH_SECONDS,
            'reporturl' => (new \moodle_url('/mod/quiz/accessrule/proctorpy/report.php', ['cmid' => $cmid]))->out(false),
            'error' => '',
        ];
        try {
            return $context + $this->export($flaggedonly, true);
        } catch (sidecar_exception $e) {
            $context['error'] = get_string('sidecarerror', 'quizaccess_proctorpy', $e->getMessage());
            return $context + ['tiles' => [], 'total' => 0, 'shown' => 0, 'flagged' => 0, 'flaggedonly' => $flaggedonly,
                'summary' => '', 'emptymessage' => '', 'updated' => ''];
        }
    }

    /**
     * The quiz's attempts in progress by the listed students, with the students' names, keyed by attempt id.
     *
     * @param int[]|null $userids the students the viewer may see, null for every student
     * @return \stdClass[] id, userid and the name fields
     */
    private function attempts_in_progress(?array $userids): array {
        global $DB;
        $names = \core_user\fields::for_name()->get_sql('u', true);
        $params = ['quiz' => $this->cm->instance, 'inprogress' => quiz_attempt::IN_PROGRESS,
            'overdue' => quiz_attempt::OVERDUE];
        $whereusers = '';
        if ($userids !== null) {
            [$insql, $inparams] = $DB->get_in_or_equal($userids, SQL_PARAMS_NAMED, 'user');
            $whereusers = "AND qa.userid $insql";
            $params += $inparams;
        }
        return $DB->get_records_sql("SELECT qa.id, qa.userid {$names->selects}
                                       FROM {quiz_attempts} qa
                                       JOIN {user} u ON u.id = qa.userid
                                      WHERE qa.quiz = :quiz AND qa.preview = 0 AND qa.state IN (:inprogress, :overdue)
                                            $whereusers", $params + $names->params);
    }

    /**
     * The sidecar's answer as tiles, in its order, for the attempts that Moodle has in progress.
     *
     * An attempt the sidecar lists but Moodle has finished (its notice still queued) or never had is left out. Those
     * waiting at the identity step come first, oldest first, as they wait for the teacher.
     *
     * @param array $answer the sidecar's answer to GET /api/v1/quizzes/<id>/live
     * @param \stdClass[] $attempts Moodle's attempts in progress, keyed by id, with the students' names
     * @param int[] $waiting ids of the attempts still at the identity step, oldest first
     * @return array[] tiles
     */
    public function tiles(array $answer, array $attempts, array $waiting = []): array {
        $matched = $this->matched_students($answer['attempts'] ?? []);
        $minutes = (int) ($answer['minutes'] ?? 0);
        $tiles = [];
        foreach ($answer['attempts'] ?? [] as $row) {
            $attemptid = (int) ($row['attempt_id'] ?? 0);
            if (!isset($attempts[$attemptid]) || (int) ($row['user_id'] ?? 0) !== (int) $attempts[$attemptid]->userid) {
                continue;
            }
            $tiles[] = $this->tile($row, $attempts[$attemptid], $matched, $minutes, in_array($attemptid, $waiting, true));
        }
        $order = array_flip($waiting);
        $rank = function (array $tile) use ($order): int {
            return $order[$tile['attemptid']] ?? count($order);
        };
        // A stable sort: the sidecar's order stays among the attempts that are not waiting.
        $positions = array_flip(array_column($tiles, 'attemptid'));
        usort($tiles, function (array $a, array $b) use ($rank, $positions): int {
            return [$rank($a), $positions[$a['attemptid']]] <=> [$rank($b), $positions[$b['attemptid']]];
        });
        return $tiles;
    }

    /**
     * Names of the other students whose faces the sidecar recognised, keyed by user id: Moodle's, else the sidecar's,
     * and only of those the viewer may see.
     *
     * @param array $rows the sidecar's attempts
     * @return string[]
     */
    private function matched_students(array $rows): array {
        global $DB;
        $nameable = page_access::nameable_user_ids($this->cm);
        $names = [];
        foreach ($rows as $row) {
            $id = (int) ($row['last_shot']['matched_user_id'] ?? 0);
            if ($id && ($nameable === null || in_array($id, $nameable, true))) {
                $names[$id] = (string) ($row['last_shot']['matched_student'] ?? '');
            }
        }
        if (!$names) {
            return [];
        }
        $fields = 'id, ' . implode(', ', \core_user\fields::get_name_fields());
        $users = $DB->get_records_list('user', 'id', array_keys($names), '', $fields);
        return array_filter(array_map('fullname', $users) + $names, 'strlen');
    }

    /**
     * One attempt's tile.
     *
     * @param array $row the sidecar's attempt
     * @param \stdClass $attempt Moodle's attempt with the student's names
     * @param string[] $matched names of recognised students by user id
     * @param int $minutes how far back the sidecar counted the times the student left the page
     * @param bool $identitywaiting whether the attempt is still at its identity step
     * @return array
     */
    private function tile(array $row, \stdClass $attempt, array $matched, int $minutes, bool $identitywaiting): array {
        $component = 'quizaccess_proctorpy';
        $name = fullname($attempt);
        $problems = array_values(array_intersect(vocabulary::LIVE_PROBLEMS, (array) ($row['problems'] ?? [])));
        if ($identitywaiting) {
            // No camshot is taken before the identity check passes: a quiet camera is no problem of its own then.
            $problems = array_values(array_diff($problems, ['camera_quiet']));
        }
        $reporturl = new \moodle_url(
            '/mod/quiz/accessrule/proctorpy/report.php',
            ['cmid' => $this->cm->id, 'attempt' => $attempt->id]
        );
        $canwaive = $identitywaiting
            && has_capability('quizaccess/proctorpy:waiveidentitycheck', \context_module::instance($this->cm->id));
        $shot = is_array($row['last_shot'] ?? null) ? $row['last_shot'] : null;
        $shotid = $shot !== null && api::is_camshot_id((string) ($shot['id'] ?? '')) ? (string) $shot['id'] : '';
        $verdict = $shotid !== '' && in_array($shot['verdict'] ?? '', vocabulary::LIVE_VERDICTS, true) ? $shot['verdict'] : '';
        // Another student is named only to a viewer who may see them.
        $matchedname = $matched[(int) ($shot['matched_user_id'] ?? 0)] ?? '';
        $cameraquiet = !$identitywaiting && !empty($row['camera_quiet']);
        $seconds = (int) round((float) ($row['seconds_since_shot'] ?? 0));
        if ($shotid === '') {
            $sinceshot = $cameraquiet ? get_string('livenoshotfor', $component, format_time($seconds))
                : get_string('livenoshot', $component);
        } else {
            $sinceshot = get_string($cameraquiet ? 'livecameraquiet' : 'livelastshot', $component, format_time($seconds));
        }
        $leftpage = (int) ($row['left_page'] ?? 0);
        $event = is_array($row['last_page_event'] ?? null) ? $row['last_page_event'] : null;
        $lastevent = '';
        if ($event !== null && in_array($event['type'] ?? '', ['focus_lost', 'focus_back', 'tab_hidden', 'tab_visible'], true)) {
            $lastevent = get_string('livelastevent', $component, ['event' => get_string('live_event_' . $event['type'], $component),
                'ago' => format_time((int) round((float) ($event['seconds_ago'] ?? 0)))]);
        }
        $score = isset($row['score']) && is_numeric($row['score']) ? (int) round((float) $row['score']) : null;
        $belowthreshold = !empty($row['below_threshold']);
        return [
            'attemptid' => (int) $attempt->id,
            'userid' => (int) $attempt->userid,
            'fullname' => $name,
            'reporturl' => $reporturl->out(false),
            'identitywaiting' => $identitywaiting,
            // The waiver posts to the attempt's report page, which checks the capability and the step again.
            'waiveurl' => $canwaive ? $reporturl->out(false) : '',
            'sesskey' => $canwaive ? sesskey() : '',
            'shotid' => $shotid,
            'thumburl' => $shotid === '' ? '' : image_link::base(
                $this->wwwroot,
                (int) $this->cm->id,
                (int) $attempt->id,
                $this->slasharguments
            ) . $shotid . '?size=thumb',
            'thumbalt' => get_string('livecamshotalt', $component, $name),
            'verdict' => $verdict,
            'verdictlabel' => $verdict === '' ? get_string('livenoshot', $component) : get_string(
                'live_verdict_' . $verdict . ($verdict === 'substitution' && $matchedname === '' ? '_unnamed' : ''),
                $component,
                $matchedname
            ),
            'verdictproblem' => in_array($verdict, self::PROBLEM_VERDICTS, true),
            'verdictok' => $verdict === 'ok',
            'sinceshot' => $sinceshot,
            'cameraquiet' => $cameraquiet,
            'leftpage' => $leftpage,
            'leftpagelabel' => $leftpage === 0 ? '' : get_string(
                $leftpage === 1 ? 'liveleftpageonce' : 'liveleftpage',
                $component,
                ['count' => $leftpage, 'minutes' => $minutes]
            ),
            'lastevent' => $lastevent,
            'scorelabel' => $score === null ? get_string('livenoscore', $component) : get_string(
                'livescore',
                $component,
                ['score' => $score, 'threshold' => (int) round((float) ($row['threshold'] ?? 0))]
            ),
            'belowthreshold' => $belowthreshold,
            'problem' => $identitywaiting || $problems,
            'problemcodes' => implode(' ', $problems),
            'problems' => array_map(function (string $problem) use ($component): array {
                return ['code' => $problem, 'label' => get_string('live_problem_' . $problem, $component)];
            }, $problems),
        ];
    }
}
