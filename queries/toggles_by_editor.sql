-- Daily toggles of syntax highlighting on one wiki, by editor and new state.
SELECT
    CAST(dt AS DATE) AS date,
    editor,
    enabled,
    COUNT(*) AS toggles
FROM read_csv('data/toggles/*/*/*/*.csv', hive_partitioning = true)
WHERE year = {year} AND month = {month} AND day = {day}
  AND wiki = '{wiki}'
  AND dt >= strptime('{from_timestamp}', '%Y%m%d%H%M%S')
  AND dt < strptime('{to_timestamp}', '%Y%m%d%H%M%S')
GROUP BY 1, 2, 3
ORDER BY 2, 3
