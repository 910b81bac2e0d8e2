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
 * Paths of the sidecar's API (v1).
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * Builds the path and query of every sidecar call the plugin makes.
 *
 * Ids from Moodle are integers; the sidecar's own ids (camshots) are opaque strings and are
 * checked here so that no client text can change the path.
 */
class api {
    /** Prefix of every versioned endpoint. */
    const PREFIX = '/api/v1';

    /** Query parameters of the attempts overview that the report page passes through. */
    const OVERVIEW_PARAMS = ['sort', 'dir', 'flagged', 'review', 'q', 'page', 'perpage'];

    /**
     * Path with a query string, encoded as RFC 3986; empty values are left out.
     *
     * @param string $path the path
     * @param array $params query parameters
     * @return string
     */
    public static function with_query(string $path, array $params): string {
        $params = array_filter($params, function ($value) {
            return $value !== null && $value !== '';
        });
        if (!$params) {
            return $path;
        }
        return $path . '?' . http_build_query($params, '', '&', PHP_QUERY_RFC3986);
    }

    /**
     * One attempt (PUT registers it, GET reads it).
     *
     * @param int $attemptid Moodle's quiz attempt id
     * @return string
     */
    public static function attempt(int $attemptid): string {
        return self::PREFIX . '/attempts/' . $attemptid;
    }

    /**
     * Report that an attempt ended.
     *
     * @param int $attemptid Moodle's quiz attempt id
     * @return string
     */
    public static function finish(int $attemptid): string {
        return self::attempt($attemptid) . '/finish';
    }

    /**
     * Synchronous identity check of an attempt (POST); GET: how its identity stands at the sidecar.
     *
     * @param int $attemptid Moodle's quiz attempt id
     * @return string
     */
    public static function identity(int $attemptid): string {
        return self::attempt($attemptid) . '/identity';
    }

    /**
     * A teacher's decision on the identity photo of an attempt with no reference photo to match it with.
     *
     * @param int $attemptid Moodle's quiz attempt id
     * @param string $decision approve or refuse
     * @return string
     */
    public static function identity_decision(int $attemptid, string $decision): string {
        return self::identity($attemptid) . '/' . $decision;
    }

    /**
     * The liveness challenge of an attempt's next identity check.
     *
     * @param int $attemptid Moodle's quiz attempt id
     * @return string
     */
    public static function identity_challenge(int $attemptid): string {
        return self::identity($attemptid) . '/challenge';
    }

    /**
     * Camshot upload.
     *
     * @return string
     */
    public static function camshots(): string {
        return self::PREFIX . '/camshots';
    }

    /**
     * Browser event upload.
     *
     * @return string
     */
    public static function events(): string {
        return self::PREFIX . '/events';
    }

    /**
     * A user's reference photo: PUT stores it, DELETE removes the reference photos and their face encodings.
     *
     * @param int $userid Moodle user id
     * @return string
     */
    public static function reference(int $userid): string {
        return self::PREFIX . '/users/' . $userid . '/reference';
    }

    /**
     * Overview of a quiz's attempts, with the viewer and the pass-through parameters.
     *
     * @param int $quizid Moodle quiz id (not the course module id)
     * @param string $format json, html or csv
     * @param array $params request parameters; only OVERVIEW_PARAMS are kept
     * @param array $actor ['actor_id' => int, 'actor_name' => string]
     * @param string $timezone the viewer's time zone (IANA name), in which the overview shows times
     * @param string $linkbase URL prefix to which the overview appends an attempt id to link its report
     * @param string $sortbase URL prefix to which the overview appends its sort and filter query
     * @param int[]|null $userids only these students' attempts (the viewer's group), null for every student's
     * @return string
     * @throws \InvalidArgumentException for an empty list of students, which would read as every student
     */
    public static function quiz_attempts(
        int $quizid,
        string $format,
        array $params,
        array $actor,
        string $timezone = '',
        string $linkbase = '',
        string $sortbase = '',
        ?array $userids = null
    ): string {
        if ($userids === []) {
            throw new \InvalidArgumentException('No students to list the attempts of');
        }
        $query = ['format' => $format === 'json' ? null : $format];
        foreach (self::OVERVIEW_PARAMS as $name) {
            if (isset($params[$name]) && is_scalar($params[$name])) {
                $query[$name] = (string) $params[$name];
            }
        }
        $query += ['user_ids' => $userids === null ? null : implode(',', array_map('intval', $userids)),
            'tz' => $timezone, 'link_base' => $linkbase, 'sort_base' => $sortbase];
        return self::with_query(self::PREFIX . '/quizzes/' . $quizid . '/attempts', $query + $actor);
    }

    /**
     * A quiz's attempts in progress for the live view, problems first.
     *
     * With an actor, the sidecar audits that this teacher opened the live view; its refreshes, every few
     * seconds, go without one and are not audited.
     *
     * @param int $quizid Moodle quiz id (not the course module id)
     * @param int[]|null $userids only these students' attempts (the viewer's group), null for every student's
     * @param array|null $actor ['actor_id' => int, 'actor_name' => string] when the view is opened
     * @return string
     * @throws \InvalidArgumentException for an empty list of students, which would read as every student
     */
    public static function quiz_live(int $quizid, ?array $userids = null, ?array $actor = null): string {
        if ($userids === []) {
            throw new \InvalidArgumentException('No students to list the attempts of');
        }
        $query = ['user_ids' => $userids === null ? null : implode(',', array_map('intval', $userids))];
        if ($actor !== null) {
            $query += $actor + ['view' => 'opened'];
        }
        return self::with_query(self::PREFIX . '/quizzes/' . $quizid . '/live', $query);
    }

    /**
     * HTML report of one attempt, its images addressed under $imagebase.
     *
     * @param int $attemptid Moodle's quiz attempt id
     * @param string $imagebase URL prefix to which the sidecar appends a camshot id
     * @param array $actor ['actor_id' => int, 'actor_name' => string]
     * @param bool $fullsize whether thumbnails link to the full-size image (the viewer may open it)
     * @param int[]|null $nameable the students the report may name when it recognises them, null for every student
     * @param string $timezone the viewer's time zone (IANA name), in which the report shows times
     * @param string $linkbase URL prefix to which the report appends the attempt id of a student it names, to link
     *     their attempt at this quiz
     * @return string
     */
    public static function attempt_report(
        int $attemptid,
        string $imagebase,
        array $actor,
        bool $fullsize = true,
        ?array $nameable = null,
        string $timezone = '',
        string $linkbase = ''
    ): string {
        return self::with_query(
            self::attempt($attemptid) . '/report',
            ['image_base' => $imagebase, 'full_size' => $fullsize ? null : '0', 'tz' => $timezone, 'link_base' => $linkbase]
                + self::named_user_ids($nameable) + $actor
        );
    }

    /**
     * PDF report of one attempt.
     *
     * @param int $attemptid Moodle's quiz attempt id
     * @param array $actor ['actor_id' => int, 'actor_name' => string]
     * @param int[]|null $nameable the students the report may name when it recognises them, null for every student
     * @param string $timezone the viewer's time zone (IANA name), in which the report shows times
     * @return string
     */
    public static function attempt_pdf(int $attemptid, array $actor, ?array $nameable = null, string $timezone = ''): string {
        return self::with_query(
            self::attempt($attemptid) . '/report.pdf',
            ['tz' => $timezone] + self::named_user_ids($nameable) + $actor
        );
    }

    /**
     * The query parameter that limits the names a report shows.
     *
     * @param int[]|null $nameable user ids, null for every student
     * @return array
     * @throws \InvalidArgumentException for an empty list, which would read as every student
     */
    private static function named_user_ids(?array $nameable): array {
        if ($nameable === []) {
            throw new \InvalidArgumentException('No students to name');
        }
        return ['named_user_ids' => $nameable === null ? null : implode(',', array_map('intval', $nameable))];
    }

    /**
     * Review conclusion of one attempt.
     *
     * @param int $attemptid Moodle's quiz attempt id
     * @return string
     */
    public static function review(int $attemptid): string {
        return self::attempt($attemptid) . '/review';
    }

    /**
     * Whether a string can be a sidecar camshot id.
     *
     * @param string $id candidate id
     * @return bool
     */
    public static function is_camshot_id(string $id): bool {
        return (bool) preg_match('/^[A-Za-z0-9_-]{1,64}$/', $id);
    }

    /**
     * One camshot's image, full size or thumbnail.
     *
     * @param string $camshotid the sidecar's camshot id
     * @param bool $thumb thumbnail wanted
     * @param array $actor ['actor_id' => int, 'actor_name' => string]
     * @return string
     * @throws \InvalidArgumentException when the id is not a camshot id
     */
    public static function camshot_image(string $camshotid, bool $thumb, array $actor): string {
        if (!self::is_camshot_id($camshotid)) {
            throw new \InvalidArgumentException('Not a camshot id: ' . $camshotid);
        }
        return self::with_query(
            self::PREFIX . '/camshots/' . $camshotid . '/image',
            ['size' => $thumb ? 'thumb' : null] + $actor
        );
    }

    /**
     * Purge (or its dry run) of a selection.
     *
     * @return string
     */
    public static function purge(): string {
        return self::PREFIX . '/purge';
    }

    /**
     * A user's data, exported as ZIP: everything, or what `quiz_ids` (ids separated by commas) and
     * `references` (1 for the profile reference photos) name.
     *
     * @param int $userid Moodle user id
     * @param array $query actor_id and actor_name for the audit log, and quiz_ids or references
     * @return string
     */
    public static function user_data(int $userid, array $query = []): string {
        return self::with_query(self::PREFIX . '/users/' . $userid . '/data', $query);
    }

    /**
     * What the sidecar holds of a user in other students' attempts (the reviews they wrote, the camshots that
     * recognised them), for GET (export) or DELETE.
     *
     * @param int $userid Moodle user id
     * @param array $query quiz_ids (ids separated by commas; every quiz when absent); view=export, actor_id and
     *     actor_name for an export, which the sidecar audits
     * @return string
     */
    public static function user_involvement(int $userid, array $query = []): string {
        return self::with_query(self::PREFIX . '/users/' . $userid . '/involvement', $query);
    }

    /**
     * The users involved in a quiz's attempts without being their students: reviewers, students recognised.
     *
     * @param int $quizid Moodle quiz id (not the course module id)
     * @return string
     */
    public static function quiz_involved(int $quizid): string {
        return self::PREFIX . '/quizzes/' . $quizid . '/involved';
    }

    /**
     * A user as a whole, for DELETE.
     *
     * @param int $userid Moodle user id
     * @return string
     */
    public static function user(int $userid): string {
        return self::PREFIX . '/users/' . $userid;
    }

    /**
     * Signed connection test.
     *
     * @return string
     */
    public static function ping(): string {
        return self::PREFIX . '/ping';
    }

    /**
     * The console's single sign-on address for a token.
     *
     * @param string $consoleurl public URL of the sidecar console
     * @param string $token SSO token
     * @return string
     */
    public static function console_sso(string $consoleurl, string $token): string {
        return rtrim($consoleurl, '/') . '/console/sso?token=' . rawurlencode($token);
    }

    /**
     * Audit fields naming the Moodle user on whose behalf a call is made.
     *
     * @param int $userid Moodle user id
     * @param string $fullname the user's full name
     * @return array ['actor_id' => int, 'actor_name' => string]
     */
    public static function actor(int $userid, string $fullname): array {
        return ['actor_id' => $userid, 'actor_name' => $fullname];
    }
}
