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
 * The teacher's live view: the tiles are refreshed every few seconds through one call of
 * quizaccess_proctorpy_get_live, rendered with the same template as the page, never by reloading it.
 * Refreshing stops while the tab is hidden and resumes, at once, when it is shown again. When a refresh
 * fails, the page says why above the last tiles it had, and keeps trying.
 *
 * @module     quizaccess_proctorpy/live
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

import Ajax from 'core/ajax';
import Templates from 'core/templates';
import {getString} from 'core/str';

/**
 * Start refreshing the live view of a quiz.
 *
 * @param {number} cmid the quiz's course module id
 * @param {number} seconds seconds between two refreshes
 */
export const init = (cmid, seconds) => {
    const root = document.querySelector('[data-region="quizaccess_proctorpy-live"]');
    if (!root) {
        return;
    }
    const tiles = root.querySelector('[data-region="tiles"]');
    const error = root.querySelector('[data-region="error"]');
    const status = root.querySelector('[data-region="status"]');
    const filter = root.querySelector('[data-action="flaggedonly"]');
    let timer = null;
    let running = false;
    let again = false;

    /**
     * Wait for the next refresh, unless the tab is hidden.
     */
    const schedule = () => {
        window.clearTimeout(timer);
        timer = document.hidden ? null : window.setTimeout(refresh, seconds * 1000);
    };

    /**
     * One refresh: ask for the tiles, render them, wait for the next.
     */
    const refresh = async() => {
        window.clearTimeout(timer);
        timer = null;
        if (running) {
            // A filter change during a refresh: refresh again once this one is done.
            again = true;
            return;
        }
        running = true;
        try {
            const data = await Ajax.call([{
                methodname: 'quizaccess_proctorpy_get_live',
                args: {cmid: cmid, flaggedonly: filter.checked},
            }])[0];
            const {html, js} = await Templates.renderForPromise('quizaccess_proctorpy/live_tiles', data);
            Templates.replaceNodeContents(tiles, html, js);
            error.hidden = true;
            root.classList.remove('ppl-stale');
            status.textContent = '';
        } catch (e) {
            error.textContent = await getString('liveerror', 'quizaccess_proctorpy', e.message || String(e));
            error.hidden = false;
            root.classList.add('ppl-stale');
        }
        running = false;
        if (again) {
            again = false;
            refresh();
        } else {
            schedule();
        }
    };

    filter.addEventListener('change', () => {
        const url = new URL(window.location.href);
        if (filter.checked) {
            url.searchParams.set('flagged', '1');
        } else {
            url.searchParams.delete('flagged');
        }
        // A reload keeps the filter.
        window.history.replaceState(null, '', url.toString());
        refresh();
    });

    document.addEventListener('visibilitychange', async() => {
        if (document.hidden) {
            window.clearTimeout(timer);
            timer = null;
            const paused = await getString('livepaused', 'quizaccess_proctorpy');
            if (document.hidden) {
                status.textContent = paused;
            }
        } else {
            status.textContent = '';
            refresh();
        }
    });

    schedule();
};
