-- inner joins under a LEFT JOIN, a condition on the inner side in ON
select r_name, count(*) as n, count(s_suppkey) as rich
from nation n join region r on n.n_regionkey = r.r_regionkey
     left join supplier s on s.s_nationkey = n.n_nationkey and s_acctbal > 9000
group by r_name
order by r_name;
